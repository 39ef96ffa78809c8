import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { PrivateJwkSchema } from '@pixpax/shared'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { IndexedDbKeyStore, KeyStoreError } from '../src/index.js'
import { FileKeyStore } from '../src/node.js'
import { MemoryKeyStore, runKeyStoreContract } from '../src/testing.js'

runKeyStoreContract('memory', async () => {
  const store = new MemoryKeyStore()
  return { store, reopen: async () => new MemoryKeyStore(store.keys) }
})

runKeyStoreContract('file', async () => {
  const dir = join(await mkdtemp(join(tmpdir(), 'pixpax-keys-')), 'keys')
  return {
    store: new FileKeyStore(dir),
    reopen: async () => new FileKeyStore(dir),
    done: () => rm(join(dir, '..'), { recursive: true, force: true }),
  }
})

runKeyStoreContract('indexeddb (fake-indexeddb)', async () => {
  const indexedDB = new IDBFactory()
  let store = new IndexedDbKeyStore('pixpax-keys', { indexedDB, IDBKeyRange })
  return {
    store,
    reopen: async () => {
      await store.close()
      return (store = new IndexedDbKeyStore('pixpax-keys', { indexedDB, IDBKeyRange }))
    },
    done: () => store.close(),
  }
})

describe('IndexedDbKeyStore.rename (device linking)', () => {
  it('moves the same non-extractable key to another id, and refuses a missing source or a taken target', async () => {
    const store = new IndexedDbKeyStore('pixpax-keys', { indexedDB: new IDBFactory(), IDBKeyRange })
    const made = await store.create('link-abc')
    const moved = await store.rename('link-abc', 'u-ada')
    expect(moved.publicKeyId).toBe(made.publicKeyId)
    expect(await store.list()).toEqual(['u-ada'])
    const loaded = await store.load('u-ada')
    expect(loaded?.publicKeyId).toBe(made.publicKeyId)
    await expect(store.rename('link-abc', 'u-bob')).rejects.toMatchObject({ code: 'KEY_MISSING' })
    await store.create('link-def')
    await expect(store.rename('link-def', 'u-ada')).rejects.toMatchObject({ code: 'KEY_EXISTS' })
    expect((await store.list()).sort()).toEqual(['link-def', 'u-ada']) // nothing lost by the refusal
    await store.close()
  })
})

describe('FileKeyStore specifics', () => {
  let root: string
  let dir: string
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pixpax-keys-'))
    dir = join(root, 'keys')
  })
  afterEach(() => rm(root, { recursive: true, force: true }))

  it('writes a private JWK per identity, file 0600 in a 0700 directory, and nothing else', async () => {
    const signer = await new FileKeyStore(dir).create('alice')
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    const file = join(dir, 'alice.jwk')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(await readdir(dir)).toEqual(['alice.jwk']) // no temp file left
    const jwk = PrivateJwkSchema.parse(JSON.parse(await readFile(file, 'utf8')))
    expect({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }).toEqual(signer.publicKey)
  })

  it('ignores stray files when listing, and reports a damaged key file', async () => {
    const store = new FileKeyStore(dir)
    await store.create('alice')
    await writeFile(join(dir, 'notes.txt'), '')
    await writeFile(join(dir, '.bob.1234.tmp'), '')
    await writeFile(join(dir, 'bad name.jwk'), '')
    await writeFile(join(dir, 'broken.jwk'), '{"kty":"EC"')
    expect(await store.list()).toEqual(['alice', 'broken'])
    const error = await store.load('broken').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KeyStoreError)
    expect((error as KeyStoreError).code).toBe('KEY_INVALID')
  })
})

describe('IndexedDbKeyStore specifics', () => {
  it('stores a non-extractable CryptoKey (fake-indexeddb structured-clones it) that still signs after a reload', async () => {
    const indexedDB = new IDBFactory()
    const store = new IndexedDbKeyStore('keys', { indexedDB, IDBKeyRange })
    const signer = await store.create('alice')
    await store.close()
    const row = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const request = indexedDB.open('keys')
      request.onerror = () => reject(request.error ?? new Error('open failed'))
      request.onsuccess = () => {
        const get = request.result.transaction('keys').objectStore('keys').get('alice')
        get.onsuccess = () => {
          request.result.close()
          resolve(get.result as Record<string, unknown>)
        }
        get.onerror = () => reject(get.error ?? new Error('get failed'))
      }
    })
    const key = row.privateKey as CryptoKey
    expect(key).toBeInstanceOf(CryptoKey)
    expect(key.type).toBe('private')
    expect(key.extractable).toBe(false)
    expect(key.usages).toEqual(['sign'])
    await expect(crypto.subtle.exportKey('jwk', key)).rejects.toThrow()
    expect(row.publicKey).toEqual(signer.publicKey)
    const reloaded = await new IndexedDbKeyStore('keys', { indexedDB, IDBKeyRange }).load('alice')
    expect(reloaded!.publicKeyId).toBe(signer.publicKeyId)
  })
  it('adopts a key made elsewhere (the recovery key of a backup) as non-extractable, refusing an existing id and a bad JWK', async () => {
    const indexedDB = new IDBFactory()
    const store = new IndexedDbKeyStore('keys', { indexedDB, IDBKeyRange })
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
    const jwk = PrivateJwkSchema.parse(await crypto.subtle.exportKey('jwk', pair.privateKey))
    const signer = await store.adopt('bob', jwk)
    expect(signer.publicKey).toEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y })
    const message = new TextEncoder().encode('hello')
    const signature = await signer.sign(message)
    const valid = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pair.publicKey, signature as BufferSource, message)
    expect(valid).toBe(true)
    await store.close()
    const reopened = new IndexedDbKeyStore('keys', { indexedDB, IDBKeyRange })
    expect((await reopened.load('bob'))!.publicKeyId).toBe(signer.publicKeyId)
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: unknown) => (e as KeyStoreError).code,
      )
    expect(await code(reopened.adopt('bob', jwk))).toBe('KEY_EXISTS')
    expect(await code(reopened.adopt('carol', { ...jwk, d: 'AAAA' }))).toBe('KEY_INVALID')
    expect(await code(reopened.adopt('no spaces', jwk))).toBe('INVALID_ID')
    expect(await reopened.list()).toEqual(['bob'])
  })
})
