/**
 * The embedded relay key: a P-256 private JWK in a file, created on first start with mode 0600. In
 * production the relay signs through Vault Transit instead (vault-transit.ts) and holds no key.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseStrictJson, PrivateJwkSchema, type PrivateJwk } from '@pixpax/shared'

export async function loadOrCreateKeyFile(path: string): Promise<PrivateJwk> {
  try {
    const parsed = PrivateJwkSchema.safeParse(parseStrictJson(await readFile(path, 'utf8')))
    if (!parsed.success) throw new Error(`${path} is not a P-256 private JWK`)
    return parsed.data
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = privateKey.export({ format: 'jwk' }) as PrivateJwk
  const key: PrivateJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d }
  await mkdir(dirname(path), { recursive: true })
  // Written whole under a temporary name, then linked into place: a process starting at the same time
  // sees either no file or the complete key, never an empty or half-written one.
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`
  try {
    await writeFile(tmp, JSON.stringify(key) + '\n', { mode: 0o600, flag: 'wx' })
    await link(tmp, path)
  } catch (error) {
    // Another replica or process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateKeyFile(path)
    throw error
  } finally {
    await unlink(tmp).catch(() => {})
  }
  return key
}
