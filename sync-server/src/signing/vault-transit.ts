/**
 * A Signer backed by Vault Transit (ECDSA P-256): the relay never holds the private key. Requests follow
 * Vault's documented Transit API: `POST /v1/{mount}/sign/{key}` with `hash_algorithm: sha2-256` and
 * `marshaling_algorithm: jws` (raw r‖s, base64url, instead of DER), and `GET /v1/{mount}/keys/{key}` for
 * the public key. Vault does not promise low-S, so signatures are normalized here.
 */
import { createPublicKey } from 'node:crypto'
import { base64Encode, base64UrlDecode, jwkThumbprint, normalizeLowS, publicJwk, type PublicJwk, type Signer } from '@pixpax/shared'

export interface VaultTransitOptions {
  address: string
  token: string
  key: string
  mount?: string
  /** Injected for tests; defaults to global fetch. */
  fetch?: typeof fetch
  /** Per request, default 5 s. */
  timeoutMs?: number
}

async function vaultRequest(
  options: VaultTransitOptions,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const f = options.fetch ?? fetch
  const url = `${options.address.replace(/\/$/, '')}/v1/${options.mount ?? 'transit'}/${path}`
  const response = await f(url, {
    method,
    headers: { 'x-vault-token': options.token, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`Vault ${method} ${path} failed: HTTP ${response.status} ${text.slice(0, 200)}`)
  return JSON.parse(text) as Record<string, unknown>
}

export async function vaultTransitSigner(options: VaultTransitOptions): Promise<Signer> {
  const keyInfo = (await vaultRequest(options, 'GET', `keys/${encodeURIComponent(options.key)}`)).data as {
    type?: string
    latest_version?: number
    keys?: Record<string, { public_key?: string }>
  }
  if (keyInfo?.type !== 'ecdsa-p256') throw new Error(`Vault transit key ${options.key} is ${keyInfo?.type ?? 'missing'}, not ecdsa-p256`)
  const pem = keyInfo.keys?.[String(keyInfo.latest_version)]?.public_key
  if (!pem) throw new Error(`Vault transit key ${options.key} has no public key for its latest version`)
  const jwk = publicJwk(createPublicKey(pem).export({ format: 'jwk' }) as PublicJwk)
  const version = keyInfo.latest_version!
  const decode = (signature: string | undefined): Uint8Array => {
    const match = signature ? /^vault:v(\d+):([A-Za-z0-9_-]+)$/.exec(signature) : null
    const raw = match ? base64UrlDecode(match[2]!) : undefined
    if (!raw || raw.length !== 64) throw new Error('Vault returned a signature that is not a JWS-marshaled P-256 signature')
    return normalizeLowS(raw)
  }
  const path = `sign/${encodeURIComponent(options.key)}`
  const common = { hash_algorithm: 'sha2-256', marshaling_algorithm: 'jws', key_version: version }
  return {
    publicKey: jwk,
    publicKeyId: jwkThumbprint(jwk),
    async sign(data) {
      const response = await vaultRequest(options, 'POST', path, { input: base64Encode(data), ...common })
      return decode((response.data as { signature?: string } | undefined)?.signature)
    },
    // One request for a whole batch of acks (Transit's documented `batch_input`); every item must succeed.
    async signBatch(data) {
      if (data.length === 0) return []
      const response = await vaultRequest(options, 'POST', path, { batch_input: data.map((d) => ({ input: base64Encode(d) })), ...common })
      const results = (response.data as { batch_results?: Array<{ signature?: string; error?: string }> } | undefined)?.batch_results
      if (!Array.isArray(results) || results.length !== data.length)
        throw new Error('Vault batch sign returned the wrong number of results')
      return results.map((r) => {
        if (r.error) throw new Error(`Vault batch sign failed: ${r.error.slice(0, 200)}`)
        return decode(r.signature)
      })
    },
  }
}
