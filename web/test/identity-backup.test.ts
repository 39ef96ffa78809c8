import { generateWebCryptoKeyPair, type PrivateJwk } from '@pixpax/shared'
import { describe, expect, it } from 'vitest'
import { BackupError, MIN_ITERATIONS, openBackup, parseBackup, sealBackup, type BackupSecret } from '../src/identity/backup.js'

async function secret(): Promise<BackupSecret> {
  const { privateKey } = await generateWebCryptoKeyPair(true)
  const jwk = (await crypto.subtle.exportKey('jwk', privateKey)) as PrivateJwk
  return { identityId: 'alice-1', accountId: 'acc-alice-1', displayName: 'Alice', privateKey: jwk }
}

const code = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof BackupError ? e.code : String(e)),
  )

describe('identity backup', () => {
  it('seals with PBKDF2-SHA256 ≥ 310,000 and AES-256-GCM, and opens with the passphrase only', async () => {
    const s = await secret()
    const file = await sealBackup(s, 'correct horse battery')
    expect(file.kdf).toMatchObject({ name: 'PBKDF2', hash: 'SHA-256', iterations: MIN_ITERATIONS })
    expect(file.cipher.name).toBe('AES-GCM')
    expect(JSON.stringify(file)).not.toContain(s.privateKey.d)
    const parsed = parseBackup(JSON.stringify(file))
    expect(await openBackup(parsed, 'correct horse battery')).toEqual(s)
    expect(await code(openBackup(parsed, 'wrong horse battery'))).toBe('WRONG_PASSPHRASE')
  })

  it('refuses an edited header (authenticated as GCM additional data), weak parameters and non-backups', async () => {
    const file = await sealBackup(await secret(), 'correct horse battery')
    expect(await code(openBackup({ ...file, identityId: 'mallory' }, 'correct horse battery'))).toBe('WRONG_PASSPHRASE')
    expect(await code(openBackup({ ...file, createdAt: '2020-01-01T00:00:00.000Z' }, 'correct horse battery'))).toBe('WRONG_PASSPHRASE')
    expect(() => parseBackup(JSON.stringify({ ...file, kdf: { ...file.kdf, iterations: 1000 } }))).toThrow(/iterations/)
    expect(() => parseBackup('not json')).toThrow(BackupError)
    expect(() => parseBackup('{"format":"other"}')).toThrow(/not a PixPax identity backup/)
    expect(await code(sealBackup(await secret(), 'short'))).toBe('PASSPHRASE_TOO_SHORT')
    expect(await code(sealBackup(await secret(), 'long enough', { iterations: 1000 }))).toBe('WEAK_PARAMETERS')
  })
})
