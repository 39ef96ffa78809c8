/**
 * People who write receipts straight to a test relay (`POST /v1/receipts`), each keeping the heads of
 * the streams it wrote: for tests that set up state a client then reads (drops, books, trades).
 */
import { buildReceipt, generatePrivateJwk, streamKey, type Receipt, type Signer, type StreamRef } from '@pixpax/shared'
import { nodeSha256, nodeSigner } from '@pixpax/shared/node'
import { postReceipts, type TestRelay } from './relay.js'

export interface Person {
  id: string
  accountId: string
  signer: Signer
  heads: Map<string, { eventId: string; hash: string }>
}

/** Signs `type` into `stream` after `who`'s head of it and posts it; throws when the relay refuses it. */
export async function post(
  relay: TestRelay,
  who: Person,
  stream: StreamRef,
  type: string,
  payload: Record<string, unknown>,
): Promise<Receipt> {
  const key = streamKey(stream)
  const receipt = await buildReceipt({
    stream,
    type,
    payload,
    identityId: who.id,
    signer: who.signer,
    prev: who.heads.get(key) ?? null,
    sha256: nodeSha256,
  })
  const res = await postReceipts(relay, [receipt])
  const body = (await res.json()) as { results: Array<{ ok: boolean }> }
  if (!body.results[0]!.ok) throw new Error(`${type} refused: ${JSON.stringify(body)}`)
  who.heads.set(key, { eventId: receipt.eventId, hash: receipt.hash })
  return receipt
}

/** A new identity `id` of account `acc-{id}`, its IDENTITY_CREATED accepted by the relay. */
export async function person(relay: TestRelay, id: string, kind = 'person'): Promise<Person> {
  const who: Person = { id, accountId: `acc-${id}`, signer: nodeSigner(generatePrivateJwk()), heads: new Map() }
  await post(relay, who, { type: 'identity', identityId: id }, 'IDENTITY_CREATED', {
    publicKey: who.signer.publicKey,
    accountId: who.accountId,
    kind,
  })
  return who
}

export const authed = (token: string) => ({ 'content-type': 'application/json', authorization: `Bearer ${token}` })
