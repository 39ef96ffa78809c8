import { afterAll, describe, expect, it } from 'vitest'
import { generatePrivateJwk, P256_HALF_N, splitSignature } from '../src/index.js'
import { nodeSigner, nodeVerifier, VerifyPool } from '../src/node/index.js'

describe('nodeSigner', () => {
  it('signBatch (the thread pool) gives low-S r‖s signatures that verify, one per message in order', async () => {
    const signer = nodeSigner(generatePrivateJwk())
    const verifier = nodeVerifier()
    const messages = Array.from({ length: 64 }, (_, i) => new TextEncoder().encode(`ack ${i}`))
    const signatures = await signer.signBatch!(messages)
    expect(signatures).toHaveLength(messages.length)
    signatures.forEach((sig, i) => {
      expect(sig).toHaveLength(64)
      expect(splitSignature(sig).s <= P256_HALF_N).toBe(true)
      expect(verifier.verify(signer.publicKey, messages[i]!, sig)).toBe(true)
      // Not the signature of a neighbour's message.
      expect(verifier.verify(signer.publicKey, messages[(i + 1) % messages.length]!, sig)).toBe(false)
    })
  })
})

describe('VerifyPool.signer (ack batches signed on the pool workers)', () => {
  const pool = new VerifyPool({ workers: 2 })
  afterAll(() => pool.close())

  it('signs batches on either worker: low-S r‖s, each the signature of its own message, same key id as nodeSigner', async () => {
    const jwk = generatePrivateJwk()
    const signer = pool.signer(jwk)
    expect(signer.publicKeyId).toBe(nodeSigner(jwk).publicKeyId)
    const verifier = nodeVerifier()
    // Several batches at once, so both workers get some (each learns the key with its first batch).
    const batches = Array.from({ length: 6 }, (_, b) =>
      Array.from({ length: 1 + b * 7 }, (_, i) => new TextEncoder().encode(`ack ${b}.${i} ${'x'.repeat(i)}`)),
    )
    const signed = await Promise.all(batches.map((messages) => signer.signBatch!(messages)))
    signed.forEach((signatures, b) => {
      const messages = batches[b]!
      expect(signatures).toHaveLength(messages.length)
      signatures.forEach((sig, i) => {
        expect(sig).toHaveLength(64)
        expect(splitSignature(sig).s <= P256_HALF_N).toBe(true)
        expect(verifier.verify(signer.publicKey, messages[i]!, sig)).toBe(true)
        if (messages.length > 1) expect(verifier.verify(signer.publicKey, messages[(i + 1) % messages.length]!, sig)).toBe(false)
      })
    })
    expect(await signer.signBatch!([])).toEqual([])
    // One at a time (checkpoints) on the caller's thread, same key.
    const one = new TextEncoder().encode('checkpoint')
    expect(verifier.verify(signer.publicKey, one, await signer.sign(one))).toBe(true)
  })

  it('two keys in one pool stay apart', async () => {
    const [a, b] = [pool.signer(generatePrivateJwk()), pool.signer(generatePrivateJwk())]
    const message = [new TextEncoder().encode('same bytes')]
    const [[sa], [sb]] = await Promise.all([a.signBatch!(message), b.signBatch!(message)])
    const verifier = nodeVerifier()
    expect(verifier.verify(a.publicKey, message[0]!, sa!)).toBe(true)
    expect(verifier.verify(b.publicKey, message[0]!, sb!)).toBe(true)
    expect(verifier.verify(b.publicKey, message[0]!, sa!)).toBe(false)
  })
})

describe('VerifyPool.signer after the pool is closed', () => {
  it('still signs batches (on the caller side, as nodeSigner does), and verify says the pool is closed', async () => {
    const pool = new VerifyPool({ workers: 1 })
    const signer = pool.signer(generatePrivateJwk())
    const message = [new TextEncoder().encode('late ack')]
    await signer.signBatch!(message) // the worker has the key
    await pool.close()
    const [sig] = await signer.signBatch!(message)
    expect(nodeVerifier().verify(signer.publicKey, message[0]!, sig!)).toBe(true)
    await expect(pool.verify(signer.publicKey, message[0]!, sig!)).rejects.toThrow(/closed/)
  })

  it('verifications queued or under way when the pool closes are refused, not left waiting', async () => {
    const pool = new VerifyPool({ workers: 1, batchSize: 4 })
    const signer = nodeSigner(generatePrivateJwk())
    const message = new TextEncoder().encode('in flight')
    const sig = await signer.sign(message)
    // 4 go out at once (a full batch), 2 wait for the next turn; then the pool closes.
    const pending = Array.from({ length: 6 }, () => pool.verify(signer.publicKey, message, sig))
    await pool.close()
    const settled = await Promise.allSettled(pending)
    // Each one is answered: a result the worker gave before it stopped, or a refusal.
    expect(settled.every((r) => (r.status === 'fulfilled' ? r.value === true : /closed/.test(String(r.reason))))).toBe(true)
    expect(settled.some((r) => r.status === 'rejected')).toBe(true)
  })
})
