/**
 * A Node client process for the crash test: appends receipts to a pixbook and syncs; the test kills it
 * with SIGKILL at an arbitrary moment. argv: relayUrl dir identityId token book count
 */
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { FileKeyStore, FileLocalLog } from '../../src/node.js'
import { SyncClient } from '../../src/sync/sync-client.js'
import { nodeWebSocket } from './relay.js'

const [relayUrl, dir, identityId, token, book, count] = process.argv.slice(2) as [string, string, string, string, string, string]
const signer = await new FileKeyStore(`${dir}/keys`).load(identityId)
if (!signer) throw new Error('no key')
const log = await FileLocalLog.open(`${dir}/log`)
const client = await SyncClient.open({
  relayUrl,
  log,
  identityId,
  signer,
  webSocket: nodeWebSocket,
  verifier: nodeVerifier(),
  sha256: nodeSha256,
  token: () => token,
  streams: [book],
})
client.start()
const existing = client.head(book)?.seq ?? 0
if (existing === 0 && client.pending().length === 0) await client.append(book, 'PIXBOOK_CREATED', { title: 'crash' })
for (let i = 0; i < Number(count); i++) {
  await client.append(book, 'CARD_ADDED', { cardId: `card-${i}`, artHash: 'sha256:' + 'ab'.repeat(32) })
  if (i === 5) process.stdout.write('appending\n')
}
process.stdout.write('appended\n')
await client.whenSynced(30_000)
process.stdout.write('synced\n')
await client.stop()
await log.close()
