/**
 * The Vault Transit signer and custodial keys against a minimal Vault on 127.0.0.1 that speaks the
 * documented Transit API (keys read/create, sign with marshaling_algorithm=jws). It signs with
 * node:crypto and turns every other signature into its high-S twin, as a real Vault may, so the tests
 * prove the relay normalizes.
 */
import { createPublicKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  buildReceipt,
  ChainVerifier,
  generatePrivateJwk,
  P256_HALF_N,
  P256_N,
  parseSignature,
  publicJwk,
  splitSignature,
  type Receipt,
} from '@pixpax/shared'
import { nodeSha256, nodeSigner, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CUSTODIAL_KEY_PREFIX, VaultCustodialKeys } from '../src/signing/custodial-vault.js'
import { vaultTransitSigner } from '../src/signing/vault-transit.js'
import { bearer, errorOf, sha256Hex, startTestRelay, TestClient } from './support/auth-fixtures.js'

const TOKEN = 'test-vault-token'

interface FakeVault {
  address: string
  keys: Map<string, { type: string; privateKey: KeyObject }>
  /** Every request, for assertions: method, path, body. */
  log: Array<{ method: string; path: string; body?: Record<string, unknown> }>
  /** Signatures returned with high S. */
  highS: number
  close(): Promise<void>
}

async function readBody(request: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  return text ? (JSON.parse(text) as Record<string, unknown>) : undefined
}

function to32(v: bigint): Buffer {
  return Buffer.from(v.toString(16).padStart(64, '0'), 'hex')
}

async function startFakeVault(): Promise<FakeVault> {
  const vault: FakeVault = { address: '', keys: new Map(), log: [], highS: 0, close: async () => {} }
  let signs = 0
  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request)
      const path = new URL(request.url!, 'http://vault').pathname
      vault.log.push({ method: request.method!, path, ...(body ? { body } : {}) })
      const send = (status: number, payload?: unknown): void => {
        response.writeHead(status, payload === undefined ? {} : { 'content-type': 'application/json' })
        response.end(payload === undefined ? undefined : JSON.stringify(payload))
      }
      if (request.headers['x-vault-token'] !== TOKEN) return send(403, { errors: ['permission denied'] })
      const keyMatch = /^\/v1\/transit\/keys\/([^/]+)$/.exec(path)
      const signMatch = /^\/v1\/transit\/sign\/([^/]+)$/.exec(path)
      if (keyMatch && request.method === 'GET') {
        const key = vault.keys.get(decodeURIComponent(keyMatch[1]!))
        if (!key) return send(404, { errors: [] })
        const pem = createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' })
        return send(200, {
          data: { type: key.type, latest_version: 1, exportable: false, keys: { '1': { public_key: pem, name: 'P-256' } } },
        })
      }
      if (keyMatch && request.method === 'POST') {
        const name = decodeURIComponent(keyMatch[1]!)
        if (body?.type !== 'ecdsa-p256') return send(400, { errors: [`unsupported key type ${String(body?.type)}`] })
        if (!vault.keys.has(name))
          vault.keys.set(name, { type: 'ecdsa-p256', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey })
        return send(204)
      }
      if (signMatch && request.method === 'POST') {
        const key = vault.keys.get(decodeURIComponent(signMatch[1]!))
        if (!key) return send(400, { errors: ['signing key not found'] })
        if (body?.hash_algorithm !== 'sha2-256') return send(400, { errors: ['expected hash_algorithm sha2-256'] })
        if (body?.marshaling_algorithm !== 'jws') return send(400, { errors: ['expected marshaling_algorithm jws'] })
        if (body.key_version !== undefined && body.key_version !== 1) return send(400, { errors: ['no such key version'] })
        const input = Buffer.from(String(body.input), 'base64')
        let sig = nodeSign('sha256', input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
        // Every other signature high-S on purpose: Vault makes no low-S promise.
        const { s } = splitSignature(new Uint8Array(sig))
        if (++signs % 2 === 0 && s <= P256_HALF_N) sig = Buffer.concat([sig.subarray(0, 32), to32(P256_N - s)])
        if (splitSignature(new Uint8Array(sig)).s > P256_HALF_N) vault.highS++
        return send(200, { data: { signature: `vault:v1:${sig.toString('base64url')}`, key_version: 1 } })
      }
      return send(404, { errors: [] })
    })().catch((error: unknown) => {
      response.writeHead(500)
      response.end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  vault.address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  vault.close = () => new Promise((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())))
  return vault
}

let vault: FakeVault
beforeAll(async () => {
  vault = await startFakeVault()
})
afterAll(async () => {
  await vault?.close()
})

describe('vaultTransitSigner against a Transit API', () => {
  it('signs receipts that verify and are low-S, even when Vault answers high-S', async () => {
    vault.keys.set('pixpax-relay', { type: 'ecdsa-p256', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey })
    const signer = await vaultTransitSigner({ address: vault.address, token: TOKEN, key: 'pixpax-relay' })
    const expectedJwk = publicJwk(createPublicKey(vault.keys.get('pixpax-relay')!.privateKey).export({ format: 'jwk' }) as never)
    expect(signer.publicKey).toEqual(expectedJwk)

    const identityId = signer.publicKeyId
    const receipts: Receipt[] = []
    let prev: Receipt | undefined
    const highBefore = vault.highS
    for (let i = 0; i < 12; i++) {
      const receipt: Receipt = await buildReceipt(
        i === 0
          ? {
              stream: { type: 'identity', identityId },
              type: 'IDENTITY_CREATED',
              payload: { publicKey: signer.publicKey, accountId: 'acc-v', kind: 'person' },
              identityId,
              signer,
              prev: null,
              sha256: nodeSha256,
            }
          : i === 1
            ? {
                stream: { type: 'pixbook', accountId: 'acc-v', bookId: 'b' },
                type: 'PIXBOOK_CREATED',
                payload: { title: 'Vault book' },
                identityId,
                signer,
                prev: null,
                sha256: nodeSha256,
              }
            : {
                stream: { type: 'pixbook', accountId: 'acc-v', bookId: 'b' },
                type: 'PIXBOOK_SAVE',
                payload: { snapshotHash: sha256Hex(String(i % 10)) },
                identityId,
                signer,
                prev: prev!,
                sha256: nodeSha256,
              },
      )
      if (i >= 1) prev = receipt
      receipts.push(receipt)
    }
    expect(vault.highS - highBefore).toBeGreaterThanOrEqual(5) // Vault really did answer high-S
    const verifier = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256 })
    for (const receipt of receipts) {
      const s = splitSignature(parseSignature(receipt.signature)).s // parseSignature itself refuses high-S
      expect(s <= P256_HALF_N).toBe(true)
      expect(await verifier.add(receipt)).toMatchObject({ ok: true })
    }
    const signCalls = vault.log.filter((l) => l.path === '/v1/transit/sign/pixpax-relay')
    expect(signCalls).toHaveLength(12)
    expect(signCalls[0]!.body).toMatchObject({ hash_algorithm: 'sha2-256', marshaling_algorithm: 'jws', key_version: 1 })
  })

  it('fails clearly with a wrong token or a missing key', async () => {
    await expect(vaultTransitSigner({ address: vault.address, token: 'wrong', key: 'pixpax-relay' })).rejects.toThrow(/HTTP 403/)
    await expect(vaultTransitSigner({ address: vault.address, token: TOKEN, key: 'no-such-key' })).rejects.toThrow(/HTTP 404/)
  })
})

describe('VaultCustodialKeys', () => {
  it('one transit key per identity, created with type ecdsa-p256 only when missing', async () => {
    const keys = new VaultCustodialKeys({ address: vault.address, token: TOKEN })
    expect(await keys.get('carol')).toBeUndefined()
    expect(vault.keys.has(`${CUSTODIAL_KEY_PREFIX}carol`)).toBe(false)
    const created = await keys.getOrCreate('carol')
    expect(vault.keys.has('pixpax-custodial-carol')).toBe(true)
    const creates = vault.log.filter((l) => l.method === 'POST' && l.path === '/v1/transit/keys/pixpax-custodial-carol')
    expect(creates).toEqual([{ method: 'POST', path: '/v1/transit/keys/pixpax-custodial-carol', body: { type: 'ecdsa-p256' } }])

    // Another replica (a fresh instance) finds the same key and creates nothing.
    const again = await new VaultCustodialKeys({ address: vault.address, token: TOKEN }).getOrCreate('carol')
    expect(again.publicKeyId).toBe(created.publicKeyId)
    expect(vault.log.filter((l) => l.method === 'POST' && l.path === '/v1/transit/keys/pixpax-custodial-carol')).toHaveLength(1)
    expect((await keys.get('carol'))?.publicKeyId).toBe(created.publicKeyId)
    await expect(keys.getOrCreate('../etc')).rejects.toThrow(RangeError)
  })

  it('reports Vault failures instead of inventing a key', async () => {
    await expect(new VaultCustodialKeys({ address: vault.address, token: 'wrong' }).getOrCreate('dan')).rejects.toThrow(/HTTP 403/)
  })
})

describe('custodial commands signed by Vault Transit', () => {
  it('a relay with VAULT_ADDR signs commands with the identity’s transit key', async () => {
    // The relay key stays local: these tests are about the custodial keys Vault holds.
    const relay = await startTestRelay({
      env: { VAULT_ADDR: vault.address, VAULT_TOKEN: TOKEN },
      relaySigner: nodeSigner(generatePrivateJwk()),
    })
    try {
      const erin = new TestClient(relay.app, 'erin', 'acc-e')
      await erin.createIdentity()
      const token = await erin.login()
      const keyResponse = await relay.app.inject({ method: 'GET', url: '/v1/identities/erin/custodial-key', headers: bearer(token) })
      expect(keyResponse.statusCode).toBe(200)
      const key = keyResponse.json<{ publicKey: never; publicKeyId: string }>()
      expect(vault.keys.has('pixpax-custodial-erin')).toBe(true)
      await erin.addKey(key.publicKey)

      const results = []
      for (const [name, payload] of [
        ['create', { title: 'Signed in Vault' }],
        ['save', { snapshotHash: sha256Hex('1') }],
        ['save', { snapshotHash: sha256Hex('2') }],
        ['save', { snapshotHash: sha256Hex('3') }],
      ] as const) {
        const response = await relay.app.inject({
          method: 'POST',
          url: `/v1/pixbooks/acc-e/vb/commands/${name}`,
          headers: bearer(token),
          payload: { payload },
        })
        expect(response.statusCode, response.body).toBe(200)
        results.push(response.json<{ eventId: string; receipt: Receipt }>())
      }
      expect(results.every((r) => r.receipt.issuer.publicKeyId === key.publicKeyId)).toBe(true)

      const verifier = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256 })
      for (const stream of ['identity/erin', 'pixbook/acc-e/vb']) {
        const response = await relay.app.inject({
          method: 'GET',
          url: `/v1/receipts?stream=${stream}`,
          headers: { ...bearer(token), accept: 'application/x-ndjson' },
        })
        for (const line of response.body.split('\n').filter(Boolean)) expect(await verifier.add(line)).toMatchObject({ ok: true })
      }
      expect(verifier.summary().streams['pixbook/acc-e/vb']?.count).toBe(4)
    } finally {
      await relay.close()
    }
  })

  it('Vault down: commands answer 503 UNAVAILABLE, not 500', async () => {
    const relay = await startTestRelay({
      env: { VAULT_ADDR: 'http://127.0.0.1:9', VAULT_TOKEN: TOKEN },
      relaySigner: nodeSigner(generatePrivateJwk()),
    })
    try {
      const fay = new TestClient(relay.app, 'fay', 'acc-f')
      await fay.createIdentity()
      const token = await fay.login()
      const response = await relay.app.inject({ method: 'GET', url: '/v1/identities/fay/custodial-key', headers: bearer(token) })
      expect(response.statusCode).toBe(503)
      expect(errorOf(response).code).toBe('UNAVAILABLE')
      const command = await relay.app.inject({
        method: 'POST',
        url: '/v1/pixbooks/acc-f/b/commands/create',
        headers: bearer(token),
        payload: { payload: { title: 't' } },
      })
      expect(command.statusCode).toBe(503)
    } finally {
      await relay.close()
    }
  })
})
