import { describe, expect, it } from 'vitest'
import { generatePrivateJwk, P256_HALF_N, splitSignature } from '../src/index.js'
import { nodeSigner, nodeVerifier } from '../src/node/index.js'

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
