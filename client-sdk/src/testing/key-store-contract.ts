/**
 * The KeyStore conformance suite: every implementation runs it with a `setup` that returns an empty
 * store. Signatures are checked the way a verifier checks them: low-S, verified with another backend
 * (noble), and inside a real receipt that `checkReceipt` accepts.
 */
import {
  buildReceipt,
  canonicalBytes,
  checkReceipt,
  jwkThumbprint,
  nobleVerifier,
  P256_HALF_N,
  PublicJwkSchema,
  splitSignature,
  type Signer,
} from '@pixpax/shared'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { KeyStoreError, type KeyStore } from '../keys/key-store.js'

/** What `setup` returns: an empty store, and optionally how to reopen its storage and clean up. */
export interface KeyStoreFixture {
  store: KeyStore
  /** A new KeyStore over the same storage (a reload); without it the persistence test is skipped. */
  reopen?: () => Promise<KeyStore>
  /** Releases the storage. */
  done?: () => Promise<void>
}

async function expectKeyStoreError(promise: Promise<unknown>, code: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error, `expected KeyStoreError ${code}`).toBeInstanceOf(KeyStoreError)
  expect((error as KeyStoreError).code).toBe(code)
}

/** Signs `count` messages and checks every signature: 64 bytes, low-S, valid under the public key. */
export async function expectGoodSignatures(signer: Signer, count = 32): Promise<void> {
  expect(PublicJwkSchema.safeParse(signer.publicKey).success).toBe(true)
  expect(signer.publicKeyId).toBe(jwkThumbprint(signer.publicKey))
  for (let i = 0; i < count; i++) {
    const data = canonicalBytes({ message: i, signer: signer.publicKeyId })
    const signature = await signer.sign(data)
    expect(signature).toHaveLength(64)
    expect(splitSignature(signature).s <= P256_HALF_N, `signature ${i} is low-S`).toBe(true)
    expect(nobleVerifier.verify(signer.publicKey, data, signature), `signature ${i} verifies`).toBe(true)
  }
}

/** Registers the KeyStore contract tests for one implementation. */
export function runKeyStoreContract(name: string, setup: () => Promise<KeyStoreFixture>): void {
  describe(`KeyStore contract: ${name}`, () => {
    let fixture: KeyStoreFixture
    let store: KeyStore

    beforeEach(async () => {
      fixture = await setup()
      store = fixture.store
    })
    afterEach(async () => {
      await fixture.done?.()
    })

    it('starts empty', async () => {
      expect(await store.list()).toEqual([])
      expect(await store.load('alice')).toBeUndefined()
    })

    it('creates a P-256 key whose signatures are low-S and verify', async () => {
      const signer = await store.create('alice')
      await expectGoodSignatures(signer)
      const receipt = await buildReceipt({
        stream: { type: 'pixbook', accountId: 'acc-1', bookId: 'book-1' },
        type: 'PIXBOOK_CREATED',
        payload: { title: 'Signed by a stored key' },
        identityId: 'alice',
        signer,
        prev: null,
      })
      const checked = checkReceipt(receipt)
      expect(nobleVerifier.verify(signer.publicKey, checked.canonical, checked.signature)).toBe(true)
    })

    it('loads the same key it created; lists ids in order; every identity gets its own key', async () => {
      const bob = await store.create('bob')
      const alice = await store.create('alice')
      const carol = await store.create('Carol_2-x')
      expect(new Set([bob.publicKeyId, alice.publicKeyId, carol.publicKeyId]).size).toBe(3)
      expect(await store.list()).toEqual(['Carol_2-x', 'alice', 'bob'])
      const loaded = (await store.load('alice'))!
      expect(loaded.publicKey).toEqual(alice.publicKey)
      expect(loaded.publicKeyId).toBe(alice.publicKeyId)
      const data = canonicalBytes({ hello: 'world' })
      expect(nobleVerifier.verify(alice.publicKey, data, await loaded.sign(data))).toBe(true)
    })

    it('never overwrites a key', async () => {
      const first = await store.create('alice')
      await expectKeyStoreError(store.create('alice'), 'KEY_EXISTS')
      expect((await store.load('alice'))!.publicKeyId).toBe(first.publicKeyId)
      const racing = await Promise.allSettled([store.create('bob'), store.create('bob'), store.create('bob')])
      expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      expect(await store.list()).toEqual(['alice', 'bob'])
    })

    it('refuses ids that are not ids', async () => {
      for (const id of ['', '../alice', 'a/b', 'a.b', 'a b', 'x'.repeat(65), '.hidden', 'é']) {
        await expectKeyStoreError(store.create(id), 'INVALID_ID')
        await expectKeyStoreError(store.load(id), 'INVALID_ID')
      }
      expect(await store.list()).toEqual([])
    })

    it('deletes a key; deleting a missing one does nothing', async () => {
      await store.create('alice')
      await store.create('bob')
      await store.delete('alice')
      await store.delete('nobody')
      expect(await store.load('alice')).toBeUndefined()
      expect(await store.list()).toEqual(['bob'])
      const again = await store.create('alice') // a new key under the old id
      await expectGoodSignatures(again, 2)
    })

    it('keeps keys across a reload', async (ctx) => {
      if (!fixture.reopen) return ctx.skip()
      const alice = await store.create('alice')
      await store.create('bob')
      store = await fixture.reopen()
      expect(await store.list()).toEqual(['alice', 'bob'])
      const loaded = (await store.load('alice'))!
      expect(loaded.publicKeyId).toBe(alice.publicKeyId)
      await expectGoodSignatures(loaded, 8)
      const data = canonicalBytes({ after: 'reload' })
      expect(nobleVerifier.verify(alice.publicKey, data, await loaded.sign(data))).toBe(true)
    })
  })
}
