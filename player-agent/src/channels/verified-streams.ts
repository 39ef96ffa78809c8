/**
 * The streams a channel reads, as the sync engine keeps them: following a stream subscribes to it over
 * the sync WebSocket, and only receipts that passed verification (relay checkpoint and inclusion proof,
 * signature under a valid key of the issuer, chain) reach the local log this reads. A receipt that fails
 * is quarantined by the engine and never seen here.
 */
import type { LocalLog, SyncClient } from '@pixpax/client-sdk'
import type { Receipt } from '@pixpax/shared'

export interface VerifiedStreams {
  /** Starts following a stream (live: receipts arrive as they are accepted). Idempotent. */
  follow(streamKey: string): void
  /** The stream's verified receipts held locally, in order (empty until they arrive). */
  read(streamKey: string): Promise<Receipt[]>
  /** Every stream held locally (for finding a post without asking the relay, offline too). */
  keys(): Promise<string[]>
  /** Calls `listener` with the stream of each verified receipt that enters the local log. */
  onReceipt(listener: (streamKey: string) => void): () => void
}

export function syncedStreams(client: SyncClient, log: LocalLog): VerifiedStreams {
  return {
    follow: (key) => client.follow(key),
    read: async (key) => (await log.read(key)).map((l) => l.receipt),
    keys: () => log.streamKeys(),
    onReceipt: (listener) => client.on('receipt', (logged) => listener(logged.streamKey)),
  }
}
