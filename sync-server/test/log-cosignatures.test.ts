/**
 * Witness cosignatures at the relay (docs/log.md §11), over a real socket (PGlite + fs): a witness posts
 * its cosignature of a checkpoint, the relay keeps it in the object store and serves the checkpoint with
 * it (`GET /v1/log/checkpoint` and to every sync session, as it arrives); a cosignature of a checkpoint
 * the relay never signed, by a key that is not the identity's, altered, or by an unknown identity is
 * refused with its code, and nothing is stored.
 */
import {
  checkWitnessed,
  cosignCheckpoint,
  formatCheckpoint,
  parseCheckpoint,
  parseSignedNote,
  signCheckpoint,
  verifySignedCheckpoint,
  witnessName,
  type ServerMessage,
} from '@pixpax/shared'
import { nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { listKeys } from '../src/stores/object-store.js'
import {
  appendOk,
  http,
  identityCreated,
  newIdentity,
  newKey,
  startTestRelay,
  type Identity,
  type RelayInfo,
  type TestRelay,
} from './support/relay-harness.js'

const T = 1_767_225_600

describe('witness cosignatures at the relay', () => {
  let relay: TestRelay
  let info: RelayInfo
  let w1: Identity
  let w2: Identity
  const verifier = nodeVerifier()

  beforeAll(async () => {
    relay = await startTestRelay({ db: 'pglite', store: 'fs' })
    info = (await http<RelayInfo>(`${relay.url}/v1/relay`)).json
    w1 = newIdentity('acc-w1')
    w2 = newIdentity('acc-w2')
    await appendOk(relay.url, [await identityCreated(w1), await identityCreated(w2)])
  }, 60_000)
  afterAll(async () => relay?.close())

  const checkpointNote = () => fetch(`${relay.url}/v1/log/checkpoint`).then((r) => r.text())
  const cosign = (who: Identity, note: string, signer = who.signer) =>
    cosignCheckpoint(note, { name: witnessName(who.identityId), signer }, T)
  const post = (body: Record<string, unknown>) =>
    http<{ size: number; witness: string; stored: string; error?: { code: string; details?: { reason?: string } } }>(
      `${relay.url}/v1/log/cosignatures`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    )
  const policy = () => ({
    witnesses: [w1, w2].map((w) => ({ name: witnessName(w.identityId), publicKey: w.signer.publicKey })),
    required: 2,
  })
  const stored = async () => {
    const keys: string[] = []
    for await (const key of listKeys(relay.deps.store, 'pixpax/log/cosignature/')) keys.push(key)
    return keys
  }

  it('stores a cosignature, serves the checkpoint with it, and pushes it to sync sessions', async () => {
    const note = await checkpointNote()
    const { size } = parseCheckpoint(parseSignedNote(note).text)
    // A sync session that already holds this checkpoint.
    const ws = new WebSocket(`${relay.url.replace('http', 'ws')}/v1/sync`)
    const messages: ServerMessage[] = []
    const waiting: Array<(m: ServerMessage) => void> = []
    ws.on('message', (data) => {
      const m = JSON.parse((data as Buffer).toString()) as ServerMessage
      messages.push(m)
      for (const w of waiting.splice(0)) w(m)
    })
    const nextMessage = (match: (m: ServerMessage) => boolean) =>
      new Promise<ServerMessage>((resolve) => {
        const check = (m: ServerMessage) => (match(m) ? resolve(m) : waiting.push(check))
        const found = messages.find(match)
        if (found) resolve(found)
        else waiting.push(check)
      })
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject))
    ws.send(JSON.stringify({ type: 'hello', v: 1, checkpointSize: size }))
    await nextMessage((m) => m.type === 'checkpoint')
    messages.length = 0

    const line = await cosign(w1, note)
    const first = await post({ identityId: w1.identityId, publicKeyId: w1.signer.publicKeyId, checkpoint: note, cosignature: line })
    expect(first.status, JSON.stringify(first.json)).toBe(200)
    expect(first.json).toEqual({ size, witness: witnessName(w1.identityId), stored: 'created' })
    expect(await stored()).toEqual([expect.stringMatching(new RegExp(`^pixpax/log/cosignature/${size}/${w1.identityId}\\.[0-9a-f]{8}$`))])
    // A resend is a no-op.
    const again = await post({ identityId: w1.identityId, publicKeyId: w1.signer.publicKeyId, checkpoint: note, cosignature: line })
    expect(again.json.stored).toBe('exists')

    const served = await checkpointNote()
    expect(served).toBe(note + line)
    await expect(
      verifySignedCheckpoint(served, { name: relay.config.LOG_ORIGIN, publicKey: info.publicKey }, verifier),
    ).resolves.toMatchObject({ size })
    await expect(checkWitnessed(served, policy(), verifier)).rejects.toMatchObject({ details: { reason: 'not-witnessed', cosigned: 1 } })
    const pushed = await nextMessage((m) => m.type === 'checkpoint' && m.checkpoint.note === served)
    expect(pushed).toMatchObject({ type: 'checkpoint' })

    // The second witness, with only the body of the checkpoint: 2 of 2.
    const body = parseSignedNote(note).text
    expect(
      (await post({ identityId: w2.identityId, publicKeyId: w2.signer.publicKeyId, checkpoint: body, cosignature: await cosign(w2, note) }))
        .status,
    ).toBe(200)
    const both = await checkpointNote()
    expect((await checkWitnessed(both, policy(), verifier)).map((c) => c.name).sort()).toEqual(
      [witnessName(w1.identityId), witnessName(w2.identityId)].sort(),
    )
    await nextMessage((m) => m.type === 'checkpoint' && m.checkpoint.note === both)
    ws.close()
  })

  it('accepts a cosignature of an older checkpoint of its log (the root recomputed from the tiles)', async () => {
    const old = await checkpointNote()
    await appendOk(relay.url, [await identityCreated(newIdentity('acc-later'))])
    const res = await post({
      identityId: w1.identityId,
      publicKeyId: w1.signer.publicKeyId,
      checkpoint: old,
      cosignature: await cosign(w1, old),
    })
    expect(res.status, JSON.stringify(res.json)).toBe(200)
    // The newest checkpoint is served without it: it is another tree.
    const served = await checkpointNote()
    expect(parseSignedNote(served).signatures).toHaveLength(1)
  })

  it('refuses cosignatures of another tree, by another key, altered, or by an unknown identity', async () => {
    const note = await checkpointNote()
    const checkpoint = parseCheckpoint(parseSignedNote(note).text)
    const before = await stored()
    // A fork: another tree of the same size, signed by a key that is not the relay's (a forger) — or body only.
    const forger = newKey()
    const forged = await signCheckpoint({ ...checkpoint, root: new Uint8Array(32).fill(7) }, checkpoint.origin, forger.signer)
    const cases = await Promise.all([
      post({ identityId: w1.identityId, publicKeyId: w1.signer.publicKeyId, checkpoint: forged, cosignature: await cosign(w1, forged) }),
      post({
        identityId: w1.identityId,
        publicKeyId: w1.signer.publicKeyId,
        checkpoint: formatCheckpoint({ ...checkpoint, size: checkpoint.size + 5 }),
        cosignature: await cosign(w1, note),
      }),
      // Signed by a key that is not w1's, claimed as w1's.
      post({
        identityId: w1.identityId,
        publicKeyId: w1.signer.publicKeyId,
        checkpoint: note,
        cosignature: await cosign(w1, note, forger.signer),
      }),
      // w2's line presented as w1's.
      post({ identityId: w1.identityId, publicKeyId: w1.signer.publicKeyId, checkpoint: note, cosignature: await cosign(w2, note) }),
      // An altered signature byte.
      cosign(w1, note).then((line) => {
        const [dash, name, b64] = line.trim().split(' ')
        const bytes = Buffer.from(b64!, 'base64')
        bytes[bytes.length - 1]! ^= 1
        return post({
          identityId: w1.identityId,
          publicKeyId: w1.signer.publicKeyId,
          checkpoint: note,
          cosignature: `${dash} ${name} ${bytes.toString('base64')}\n`,
        })
      }),
      post({ identityId: 'nobody', publicKeyId: w1.signer.publicKeyId, checkpoint: note, cosignature: await cosign(w1, note) }),
      post({ identityId: w1.identityId, publicKeyId: w1.signer.publicKeyId, checkpoint: note }),
    ])
    const codes = cases.map((c) => [c.status, c.json.error?.code, c.json.error?.details?.reason])
    expect(codes).toEqual([
      [400, 'BAD_REQUEST', 'not-this-log'],
      [400, 'BAD_REQUEST', 'not-this-log'],
      [422, 'SIGNATURE_INVALID', undefined],
      [422, 'SIGNATURE_INVALID', undefined],
      [422, 'SIGNATURE_INVALID', undefined],
      [422, 'KEY_UNKNOWN', undefined],
      [400, 'SCHEMA_INVALID', undefined],
    ])
    expect(await stored()).toEqual(before)
  })
})
