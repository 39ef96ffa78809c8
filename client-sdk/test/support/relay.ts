/**
 * A real relay for client tests: in-process Fastify on a real socket, PGlite + a filesystem store in a
 * temp dir, plus helpers to make identities and sessions.
 */
import { generatePrivateJwk, type Receipt, type Signer } from '@pixpax/shared'
import { nodeSigner } from '@pixpax/shared/node'
import type { TestRelay } from '@pixpax/sync-server/testing'
import WebSocket from 'ws'
import type { WebSocketFactory, WebSocketLike } from '../../src/sync/sync-client.js'
import { identityCreatedBy } from '../../src/testing/fixtures.js'

export { startTestRelay, type TestRelay } from '@pixpax/sync-server/testing'

/** `ws` as the engine's WebSocket (Node 20 has no global WebSocket). */
export const nodeWebSocket: WebSocketFactory = (url) => new WebSocket(url) as unknown as WebSocketLike

export interface TestIdentity {
  identityId: string
  accountId: string
  signer: Signer
  created: Receipt
}

export async function makeIdentity(identityId: string, accountId: string): Promise<TestIdentity> {
  const signer = nodeSigner(generatePrivateJwk())
  const created = await identityCreatedBy(signer, identityId, accountId)
  return { identityId, accountId, signer, created }
}

export async function postReceipts(relay: TestRelay, receipts: Receipt[]): Promise<Response> {
  return fetch(`${relay.url}/v1/receipts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ receipts }),
  })
}
