/**
 * Custodial keys in Vault Transit: one ECDSA P-256 transit key per identity, named
 * `pixpax-custodial-{identityId}`, created on first use with `POST /v1/{mount}/keys/{name}`
 * (`{"type":"ecdsa-p256"}`; not exportable, Vault's default) and used through the same Transit signer as
 * the relay key (vault-transit.ts: `marshaling_algorithm: jws`, low-S normalized).
 */
import { IdSchema, type Signer } from '@pixpax/shared'
import type { CustodialKeys } from './custodial-keys.js'
import { vaultTransitSigner, type VaultTransitOptions } from './vault-transit.js'

export const CUSTODIAL_KEY_PREFIX = 'pixpax-custodial-'

export type VaultCustodialOptions = Omit<VaultTransitOptions, 'key'> & {
  /** Transit key name prefix; default `pixpax-custodial-`. */
  keyPrefix?: string
}

export class VaultCustodialKeys implements CustodialKeys {
  readonly name = 'vault-transit'
  readonly #signers = new Map<string, Promise<Signer>>()

  constructor(private readonly options: VaultCustodialOptions) {}

  keyName(identityId: string): string {
    if (!IdSchema.safeParse(identityId).success) throw new RangeError(`not an identity id: ${JSON.stringify(identityId)}`)
    return `${this.options.keyPrefix ?? CUSTODIAL_KEY_PREFIX}${identityId}`
  }

  async get(identityId: string): Promise<Signer | undefined> {
    const cached = this.#signers.get(identityId)
    if (cached) return cached
    const name = this.keyName(identityId)
    const status = await this.#request('GET', `keys/${encodeURIComponent(name)}`)
    if (status === 404) return undefined
    return this.#remember(identityId, vaultTransitSigner({ ...this.options, key: name }))
  }

  async getOrCreate(identityId: string): Promise<Signer> {
    const existing = await this.get(identityId)
    if (existing) return existing
    const name = this.keyName(identityId)
    // Creating a transit key that exists leaves it as it is, so two replicas racing here end with one key.
    await this.#request('POST', `keys/${encodeURIComponent(name)}`, { type: 'ecdsa-p256' })
    return this.#remember(identityId, vaultTransitSigner({ ...this.options, key: name }))
  }

  #remember(identityId: string, signer: Promise<Signer>): Promise<Signer> {
    this.#signers.set(identityId, signer)
    signer.catch(() => this.#signers.delete(identityId))
    return signer
  }

  /** A Transit call whose body we do not need: its status (404 passes through), other failures throw. */
  async #request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<number> {
    const f = this.options.fetch ?? fetch
    const url = `${this.options.address.replace(/\/$/, '')}/v1/${this.options.mount ?? 'transit'}/${path}`
    const response = await f(url, {
      method,
      headers: { 'x-vault-token': this.options.token, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
    })
    const text = await response.text()
    if (response.ok || (method === 'GET' && response.status === 404)) return response.status
    throw new Error(`Vault ${method} ${path} failed: HTTP ${response.status} ${text.slice(0, 200)}`)
  }
}
