/**
 * Drafts on this device (IndexedDB through Dexie): saved only when the user presses Save — autosave is
 * off by default, so an experiment never overwrites the last version the user chose to keep.
 */
import { Dexie, type Table } from 'dexie'
import type { PieceJson } from './model/serialize.js'

export interface DraftRow {
  id: string
  name: string
  updatedAt: number
  piece: PieceJson
}

class DraftDatabase extends Dexie {
  drafts!: Table<DraftRow, string>
  constructor() {
    super('pixpax-drafts')
    this.version(1).stores({ drafts: 'id, updatedAt' })
  }
}

let db: DraftDatabase | undefined
const open = () => (db ??= new DraftDatabase())

export async function saveDraftLocally(row: DraftRow): Promise<void> {
  await open().drafts.put(row)
}

export async function listLocalDrafts(): Promise<DraftRow[]> {
  return await open().drafts.orderBy('updatedAt').reverse().toArray()
}

export async function deleteLocalDraft(id: string): Promise<void> {
  await open().drafts.delete(id)
}
