/**
 * Custodial keys as files: `{dir}/{identityId}.jwk`, a P-256 private JWK, mode 0600 in a 0700 directory,
 * created on first use. Embedded default; every replica must share the directory (or use Vault).
 */
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { IdSchema, parseStrictJson, PrivateJwkSchema, type Signer } from '@pixpax/shared'
import { nodeSigner } from '@pixpax/shared/node'
import type { CustodialKeys } from './custodial-keys.js'
import { loadOrCreateKeyFile } from './key-file.js'

export class FileCustodialKeys implements CustodialKeys {
  readonly name = 'key-files'
  readonly #signers = new Map<string, Promise<Signer>>()

  constructor(readonly dir: string) {}

  /** The key file of an identity; the id pattern keeps it inside `dir`. */
  path(identityId: string): string {
    if (!IdSchema.safeParse(identityId).success) throw new RangeError(`not an identity id: ${JSON.stringify(identityId)}`)
    return join(this.dir, `${identityId}.jwk`)
  }

  async get(identityId: string): Promise<Signer | undefined> {
    const cached = this.#signers.get(identityId)
    if (cached) return cached
    let text: string
    try {
      text = await readFile(this.path(identityId), 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    const parsed = PrivateJwkSchema.safeParse(parseStrictJson(text))
    if (!parsed.success) throw new Error(`${this.path(identityId)} is not a P-256 private JWK`)
    return this.#remember(identityId, Promise.resolve(nodeSigner(parsed.data)))
  }

  async getOrCreate(identityId: string): Promise<Signer> {
    const cached = this.#signers.get(identityId)
    if (cached) return cached
    const path = this.path(identityId)
    return this.#remember(
      identityId,
      (async () => {
        await mkdir(this.dir, { recursive: true, mode: 0o700 })
        // Exclusive create (wx): of two processes racing, the second reads the first one's key.
        return nodeSigner(await loadOrCreateKeyFile(path))
      })(),
    )
  }

  #remember(identityId: string, signer: Promise<Signer>): Promise<Signer> {
    this.#signers.set(identityId, signer)
    signer.catch(() => this.#signers.delete(identityId))
    return signer
  }
}
