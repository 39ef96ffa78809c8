/**
 * startVerification / reusingVerifier: a signature check started ahead is reused for exactly its key,
 * bytes and signature, and everything else goes to the real verifier — so reusing can save work but
 * never change an answer.
 */
import { describe, expect, it } from 'vitest'
import {
  ChainVerifier,
  nobleSigner,
  nobleVerifier,
  publicJwk,
  reusingVerifier,
  startVerification,
  utf8Encode,
  type PublicJwk,
  type SignatureVerifier,
} from '../src/index.js'
import { actor, author, headOf, makeIdentityCreated, make, pixbookStream, testKey } from '../src/testing/index.js'

/** The noble verifier, counting its calls. */
function counting(): SignatureVerifier & { calls: number } {
  const base = nobleVerifier
  const v = {
    name: 'counting',
    calls: 0,
    verify(publicKey: PublicJwk, data: Uint8Array, signature: Uint8Array) {
      v.calls++
      return base.verify(publicKey, data, signature)
    },
  }
  return v
}

const alice = nobleSigner(testKey('alice'))
const bob = publicJwk(testKey('bob'))
const message = utf8Encode('a receipt body')

describe('startVerification', () => {
  it('starts the check at once and keeps what it was for', async () => {
    const v = counting()
    const signature = await alice.sign(message)
    const early = startVerification(v, alice.publicKey, message, signature)
    expect(v.calls).toBe(1)
    expect(early).toMatchObject({ publicKey: alice.publicKey, data: message, signature })
    expect(await early.result).toBe(true)
  })

  it('never leaves a failing verifier as an unhandled rejection; whoever reuses it sees the failure', async () => {
    const failing: SignatureVerifier = { name: 'failing', verify: () => Promise.reject(new Error('worker died')) }
    const early = startVerification(failing, alice.publicKey, message, new Uint8Array(64))
    await new Promise((resolve) => setTimeout(resolve, 10)) // an unhandled rejection would surface here
    await expect(reusingVerifier(failing, early).verify(alice.publicKey, message, new Uint8Array(64))).rejects.toThrow('worker died')
  })
})

describe('reusingVerifier', () => {
  it('is the base verifier itself when nothing was started', () => {
    const v = counting()
    expect(reusingVerifier(v, undefined)).toBe(v)
  })

  it('answers with the early result for the same key, bytes and signature, without verifying again', async () => {
    const v = counting()
    const signature = await alice.sign(message)
    const early = startVerification(v, alice.publicKey, message, signature)
    const reusing = reusingVerifier(v, early)
    expect(reusing.name).toBe('counting')
    expect(await reusing.verify(alice.publicKey, message, signature)).toBe(true)
    // Equal copies count as the same: the key is compared by its point, the bytes by content.
    expect(await reusing.verify({ ...alice.publicKey }, message.slice(), signature.slice())).toBe(true)
    expect(v.calls).toBe(1)
  })

  it('reuses a negative answer too (a bad signature stays bad)', async () => {
    const v = counting()
    const signature = await alice.sign(utf8Encode('something else'))
    const reusing = reusingVerifier(v, startVerification(v, alice.publicKey, message, signature))
    expect(await reusing.verify(alice.publicKey, message, signature)).toBe(false)
    expect(v.calls).toBe(1)
  })

  it('asks the base verifier about any other key, bytes or signature', async () => {
    const v = counting()
    const signature = await alice.sign(message)
    // A wrong early answer makes it visible whether the early result or the real verifier answered.
    const lie = { ...startVerification(v, alice.publicKey, message, signature), result: Promise.resolve(false) }
    const reusing = reusingVerifier(v, lie)
    expect(await reusing.verify(alice.publicKey, message, signature)).toBe(false) // reused
    const other = utf8Encode('another body')
    const otherSignature = await alice.sign(other)
    expect(await reusing.verify(alice.publicKey, other, otherSignature)).toBe(true) // other bytes and signature
    expect(await reusing.verify(alice.publicKey, message, otherSignature)).toBe(false) // other signature only
    expect(await reusing.verify(bob, message, signature)).toBe(false) // other key
    expect(v.calls).toBe(4)
  })
})

describe('ChainVerifier with early verification', () => {
  it('verifies each signature once: prepare starts it, commit reuses it', async () => {
    const v = counting()
    const verifier = new ChainVerifier({ verifier: v })
    const a = author()
    const who = actor('alice', 'acc-1')
    const created = await makeIdentityCreated(a, who)
    const book = await make(a, {
      stream: pixbookStream('acc-1', 'b1'),
      type: 'PIXBOOK_CREATED',
      payload: { title: 'My book' },
      by: who,
      prev: null,
    })
    const save = await make(a, {
      stream: pixbookStream('acc-1', 'b1'),
      type: 'PIXBOOK_SAVE',
      payload: { snapshotHash: 'sha256:' + 'ab'.repeat(32) },
      by: who,
      prev: headOf(book),
    })
    const prepared = [created, book, save].map((r) => verifier.prepare(r))
    expect(prepared.every((p) => p.early)).toBe(true) // the key is known from IDENTITY_CREATED before any commit
    expect(v.calls).toBe(3)
    for (const p of prepared) expect(await verifier.commit(p)).toMatchObject({ ok: true })
    expect(v.calls).toBe(3)
  })
})
