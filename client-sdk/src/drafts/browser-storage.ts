/**
 * Drafts in browsers: automerge-repo's IndexedDB adapter (one database per app/profile), and the
 * WebAssembly start-up for apps that bundle Automerge's `/slim` entry so that its 3.6 MB wasm is fetched
 * only when drafts are first used (a bundler without wasm-module support cannot load the default entry).
 */
import { initializeWasm, isWasmInitialized } from '@automerge/automerge/slim'
import { IndexedDBStorageAdapter } from '@automerge/automerge-repo-storage-indexeddb'

export function indexedDbDraftStorage(database = 'pixpax-drafts'): IndexedDBStorageAdapter {
  return new IndexedDBStorageAdapter(database)
}

let starting: Promise<void> | undefined

/**
 * Loads Automerge's wasm from `wasmUrl` once (later calls wait on the first). Call it before
 * `createDraftRepo` when the app maps `@automerge/automerge` to `@automerge/automerge/slim`; with the
 * default entry the wasm is already loaded and this does nothing.
 */
export function initDraftsWasm(wasmUrl: string): Promise<void> {
  if (isWasmInitialized()) return Promise.resolve()
  starting ??= initializeWasm(wasmUrl).catch((error: unknown) => {
    starting = undefined
    throw error
  })
  return starting
}
