/**
 * Draft storage on Node (player-agent, tests): automerge-repo's NodeFS adapter, one directory per
 * device. Node only — exported from `@pixpax/client-sdk/node`, never from the browser entry.
 */
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs'

export function nodeDraftStorage(directory: string): NodeFSStorageAdapter {
  return new NodeFSStorageAdapter(directory)
}
