/**
 * Witnesses against real relays (docs/log.md §11): a client with `cosign: true` countersigns each
 * checkpoint it verified and hands it to the relay; a client that requires k of n witnesses applies no
 * receipt until a checkpoint they cosigned covers it. Two relays sharing one key are one relay that forked
 * its log: the witness cosigned one history, so a client shown the other never trusts it, the relay
 * refuses to serve the witness's cosignature for a tree it did not sign, and a client handed the witnessed
 * checkpoint by gossip detects the fork.
 */
import { generatePrivateJwk, verifySignedCheckpoint, witnessName, type WitnessPolicy } from '@pixpax/shared'
import { nodeSha256, nodeSigner, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { SyncClient, type SyncClientOptions } from '../src/sync/sync-client.js'
import { makeIdentity, nodeWebSocket, postReceipts, startTestRelay, type TestIdentity, type TestRelay } from './support/relay.js'

describe('witnessed sync', () => {
  const relayKey = nodeSigner(generatePrivateJwk())
  let a: TestRelay
  let b: TestRelay
  let carol: TestIdentity
  let wit: TestIdentity
  let other: TestIdentity
  const stream = () => `identity/${carol.identityId}`

  beforeAll(async () => {
    // One key, two logs of the same size: carol and the witness on both, then a different third entry.
    ;[a, b] = await Promise.all([startTestRelay({ relaySigner: relayKey }), startTestRelay({ relaySigner: relayKey })])
    carol = await makeIdentity('carol', 'acc-carol')
    wit = await makeIdentity('wit', 'acc-wit')
    other = await makeIdentity('other', 'acc-other')
    const dave = await makeIdentity('dave', 'acc-dave')
    expect((await postReceipts(a, [carol.created, wit.created, other.created])).status).toBe(200)
    expect((await postReceipts(b, [carol.created, wit.created, dave.created])).status).toBe(200)
  }, 60_000)
  afterAll(async () => Promise.all([a.close(), b.close()]))

  function client(who: TestIdentity, relayUrl: string, extra: Partial<SyncClientOptions> = {}) {
    return SyncClient.open({
      relayUrl,
      log: new MemoryLocalLog(),
      identityId: who.identityId,
      signer: who.signer,
      webSocket: nodeWebSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      reconnect: { baseMs: 20, maxMs: 200 },
      ...extra,
    })
  }
  const witnessKey = (who: TestIdentity) => ({ name: witnessName(who.identityId), publicKey: who.signer.publicKey })
  const once = <T>(c: SyncClient, event: 'awaiting-witnesses' | 'witnessed' | 'cosigned'): Promise<T> =>
    new Promise((resolve) => {
      const off = c.on(event, (value) => {
        off()
        resolve(value as T)
      })
    })

  it('applies nothing until a witness cosigned a covering checkpoint, then catches up', async () => {
    const policy: WitnessPolicy = { witnesses: [witnessKey(wit), witnessKey(other)], required: 1 }
    const reader = await client(carol, a.url, { witnesses: policy })
    const awaiting = once<{ streamKey: string; size: number }>(reader, 'awaiting-witnesses')
    reader.start()
    expect(await awaiting).toMatchObject({ streamKey: stream(), size: 3 })
    expect(reader.head(stream())).toBeUndefined()
    expect(reader.status).toBe('syncing')
    // The witness verifies the relay's checkpoint and cosigns it; the relay pushes it to the reader.
    const witness = await client(wit, a.url, { cosign: true })
    const cosigned = once<{ size: number; stored: string }>(witness, 'cosigned')
    const witnessed = once(reader, 'witnessed')
    witness.start()
    expect(await cosigned).toMatchObject({ size: 3, stored: 'created', witness: witnessName(wit.identityId) })
    expect(await witnessed).toMatchObject({ size: 3, cosignatures: [{ name: witnessName(wit.identityId) }] })
    await reader.whenSynced()
    expect(reader.head(stream())?.seq).toBe(1)
    // The served checkpoint carries the cosignature and still verifies under the relay key.
    const served = await (await fetch(`${a.url}/v1/log/checkpoint`)).text()
    expect(served).toContain(`\u2014 ${witnessName(wit.identityId)} `)
    await expect(
      verifySignedCheckpoint(served, { name: 'pixpax.local/log', publicKey: relayKey.publicKey }, nodeVerifier()),
    ).resolves.toMatchObject({
      size: 3,
    })
    // The witnessed size is kept: a restart needs no new cosignature for what it holds.
    expect(reader.witnessed).toMatchObject({ size: 3 })
    await Promise.all([reader.stop(), witness.stop()])
  }, 60_000)

  it('a forked relay cannot get the witnessed history trusted; gossip of the witnessed checkpoint detects the fork', async () => {
    // On A the witness cosigned size 3 (previous test, or now).
    const witness = await client(wit, a.url, { cosign: true })
    witness.start()
    await witness.whenSynced()
    await witness.cosignCheckpoint()
    const witnessedNote = await (await fetch(`${a.url}/v1/log/checkpoint`)).text()
    // B (same key, other tree of size 3) refuses the witness's cosignature of A's tree.
    const refused = await fetch(`${b.url}/v1/log/cosignatures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        identityId: wit.identityId,
        publicKeyId: wit.signer.publicKeyId,
        checkpoint: witnessedNote,
        cosignature: witnessedNote.split('\n').find((l) => l.startsWith(`\u2014 ${witnessName(wit.identityId)} `)),
      }),
    })
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { error: { details: { reason: string } } }).error.details.reason).toBe('not-this-log')
    // A reader shown B's history never applies it: no witness cosigned that tree.
    const log = new MemoryLocalLog()
    const reader = await client(carol, b.url, { log, witnesses: { witnesses: [witnessKey(wit)], required: 1 } })
    const awaiting = once(reader, 'awaiting-witnesses')
    reader.start()
    await awaiting
    expect(reader.head(stream())).toBeUndefined()
    expect(await log.read(stream())).toEqual([])
    // Handed the witnessed checkpoint (gossip between clients), it sees two trees of one size signed by its relay.
    const inconsistent = new Promise<{ reason: string }>((resolve) => reader.on('log-inconsistent', resolve))
    await expect(reader.gossipCheckpoint(witnessedNote)).rejects.toMatchObject({ code: 'LOG_INCONSISTENT', details: { reason: 'fork' } })
    expect((await inconsistent).reason).toBe('fork')
    expect(reader.relayHalt?.code).toBe('LOG_INCONSISTENT')
    const [evidence] = await reader.logEvidence()
    expect(evidence).toMatchObject({ reason: 'fork', received: witnessedNote })
    expect(await log.read(stream())).toEqual([])
    await Promise.all([reader.stop(), witness.stop()])
  }, 60_000)
})
