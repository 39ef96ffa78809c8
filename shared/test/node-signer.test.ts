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
