/**
 * Draft storage in browsers: automerge-repo's IndexedDB adapter (one database per app/profile).
 */
import { IndexedDBStorageAdapter } from '@automerge/automerge-repo-storage-indexeddb'

export function indexedDbDraftStorage(database = 'pixpax-drafts'): IndexedDBStorageAdapter {
  return new IndexedDBStorageAdapter(database)
}
