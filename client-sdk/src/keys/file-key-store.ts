/**
 * KeyStore on the local disk (Node: the player-agent, tools): one private JWK per identity in
 * `dir/<identityId>.jwk`, mode 0600, in a directory created 0700.
 *
 * A key file is never overwritten and never seen half-written: `create` writes the JWK to a temp file
 * opened `wx` with mode 0600, fsyncs it, then hard-links it to its final name — `link` fails if the
 * name exists, so creation is atomic and exclusive even between processes — and fsyncs the directory.
 * (Where hard links are unsupported it falls back to `open(final, 'wx', 0o600)` and a write.)
 */
import { randomUUID } from 'node:crypto'
import { link, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { generatePrivateJwk, PrivateJwkSchema, type PrivateJwk, type Signer } from '@pixpax/shared'
import { nodeSigner } from '@pixpax/shared/node'
import { syncDir } from '../storage/append-file.js'
import { assertIdentityId, KeyStoreError, type KeyStore } from './key-store.js'

const SUFFIX = '.jwk'
const ID_FILE = /^[A-Za-z0-9_-]{1,64}\.jwk$/

const errno = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code

/** A KeyStore of private JWK files (mode 0600) in `dir`; signers use node:crypto. */
export class FileKeyStore implements KeyStore {
  /** @param dir the directory holding the key files; created with mode 0700 when missing. */
  constructor(readonly dir: string) {}

  /** The path of `identityId`'s key file. */
  pathOf(identityId: string): string {
    assertIdentityId(identityId)
    return join(this.dir, identityId + SUFFIX)
  }

  async create(identityId: string): Promise<Signer> {
    const path = this.pathOf(identityId)
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const jwk = generatePrivateJwk()
    const text = JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d }) + '\n'
    const temp = join(this.dir, `.${identityId}.${randomUUID()}.tmp`)
    await writeNew(temp, text)
    try {
      await link(temp, path)
    } catch (error) {
      if (errno(error) === 'EEXIST')
        throw new KeyStoreError('KEY_EXISTS', `identity ${identityId} already has a key (${path})`, { cause: error })
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(errno(error) ?? '')) throw error
      await writeNew(path, text).catch((e: unknown) => {
        throw errno(e) === 'EEXIST'
          ? new KeyStoreError('KEY_EXISTS', `identity ${identityId} already has a key (${path})`, { cause: e })
          : e
      })
    } finally {
      await unlink(temp).catch(() => undefined)
    }
    await syncDir(this.dir)
    return nodeSigner(jwk)
  }

  async load(identityId: string): Promise<Signer | undefined> {
    const path = this.pathOf(identityId)
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (error) {
      if (errno(error) === 'ENOENT') return undefined
      throw error
    }
    let jwk: PrivateJwk
    try {
      jwk = PrivateJwkSchema.parse(JSON.parse(text))
      return nodeSigner(jwk)
    } catch (error) {
      throw new KeyStoreError('KEY_INVALID', `${path} is not a P-256 private JWK`, { cause: error })
    }
  }

  async list(): Promise<string[]> {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch (error) {
      if (errno(error) === 'ENOENT') return []
      throw error
    }
    return names
      .filter((name) => ID_FILE.test(name))
      .map((name) => name.slice(0, -SUFFIX.length))
      .sort()
  }

  async delete(identityId: string): Promise<void> {
    const path = this.pathOf(identityId)
    try {
      await unlink(path)
    } catch (error) {
      if (errno(error) === 'ENOENT') return
      throw error
    }
    await syncDir(this.dir)
  }
}

/** Creates `path` exclusively with mode 0600 (umask can only narrow it), writes `text` and fsyncs. */
async function writeNew(path: string, text: string): Promise<void> {
  const fh = await open(path, 'wx', 0o600)
  try {
    await fh.writeFile(text)
    await fh.sync()
  } finally {
    await fh.close()
  }
}
