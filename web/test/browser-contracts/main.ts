/**
 * The page that runs client-sdk's conformance suites in real Chromium: the Dexie local log over the
 * browser's own IndexedDB, and the IndexedDB key store with real non-extractable WebCrypto keys. Each
 * test gets fresh database names. The test drives it through `window.runContracts()`.
 */
import { DexieLocalLog, IndexedDbKeyStore } from '@pixpax/client-sdk'
import { runKeyStoreContract, runLocalLogContract } from '@pixpax/client-sdk/testing'
import { runCollected, type TestResult } from './vitest-shim.js'

let n = 0
const fresh = (prefix: string) => `${prefix}-${Date.now()}-${n++}`

runLocalLogContract('DexieLocalLog (Chromium IndexedDB)', async () => {
  const name = fresh('contract-log')
  let log = new DexieLocalLog(name)
  return {
    log,
    reopen: async () => {
      await log.close()
      return (log = new DexieLocalLog(name))
    },
    done: () => log.close(),
  }
})

runKeyStoreContract('IndexedDbKeyStore (Chromium IndexedDB + WebCrypto)', async () => {
  const name = fresh('contract-keys')
  let store = new IndexedDbKeyStore(name)
  return {
    store,
    reopen: async () => {
      await store.close()
      return (store = new IndexedDbKeyStore(name))
    },
    done: () => store.close(),
  }
})

declare global {
  interface Window {
    runContracts: () => Promise<TestResult[]>
  }
}

window.runContracts = runCollected
