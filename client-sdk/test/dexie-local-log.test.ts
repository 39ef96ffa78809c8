import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { describe, expect, it } from 'vitest'
import { DexieLocalLog } from '../src/index.js'
import { buildChain, runLocalLogContract } from '../src/testing.js'

// A fresh fake IndexedDB per test: nothing leaks between them.
runLocalLogContract('dexie (fake-indexeddb)', async () => {
  const indexedDB = new IDBFactory()
  const open = () => new DexieLocalLog('pixpax-log', { indexedDB, IDBKeyRange })
  return { log: open(), reopen: async () => open() }
})

describe('DexieLocalLog specifics', () => {
  it('stores receipts 256 to a row in aligned windows; single appends add fragments, merged when a window fills', async () => {
    const indexedDB = new IDBFactory()
    const log = new DexieLocalLog('layout', { indexedDB, IDBKeyRange })
    const chain = await buildChain({ count: 600, bookId: 'layout' })
    const shape = async (): Promise<number[][]> =>
      (await rawRows(indexedDB, 'layout', 'chunks')).map((row) => [
        (row as { firstSeq: number }).firstSeq,
        (row as { items: unknown[] }).items.length,
      ])
    await log.append(chain.slice(0, 100))
    await log.append(chain.slice(100, 101))
    await log.append(chain.slice(101, 102))
    expect(await shape()).toEqual([
      [1, 100],
      [101, 1],
      [102, 1],
    ])
    await log.append(chain.slice(102, 520)) // completes window 1, fills window 257, starts window 513
    expect(await shape()).toEqual([
      [1, 256],
      [257, 256],
      [513, 8],
    ])
    for (const entry of chain.slice(520, 523)) await log.append([entry])
    await log.append(chain.slice(523))
    expect(await shape()).toEqual([
      [1, 256],
      [257, 256],
      [513, 8],
      [521, 1],
      [522, 1],
      [523, 1],
      [524, 77],
    ])
    expect(await log.read(chain[0]!.streamKey, 510, 20)).toEqual(chain.slice(510, 530))
    await log.close()
    expect(await rawRows(indexedDB, 'layout', 'order')).toHaveLength(8) // one per append call
    expect(await rawRows(indexedDB, 'layout', 'heads')).toHaveLength(1)
  })
})

/** Every row of an object store, read with the raw IndexedDB API (not through the code under test). */
function rawRows(indexedDB: IDBFactory, dbName: string, store: string): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(dbName)
    request.onerror = () => reject(request.error ?? new Error('open failed'))
    request.onsuccess = () => {
      const db = request.result
      const get = db.transaction(store).objectStore(store).getAll()
      get.onerror = () => reject(get.error ?? new Error('get failed'))
      get.onsuccess = () => {
        db.close()
        resolve(get.result)
      }
    }
  })
}
