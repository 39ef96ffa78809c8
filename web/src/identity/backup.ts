/**
 * Encrypted identity backups. The browser's device key is non-extractable, so a backup cannot hold it:
 * exporting one makes a new *recovery key*, adds it to the identity (KEY_ADDED, signed by the device
 * key) and seals its private JWK in the file. Importing the file on another browser stores that key as
 * that browser's non-extractable key (IndexedDbKeyStore.adopt). Revoking the recovery key (KEY_REVOKED)
 * makes a leaked file useless.
 *
 * Sealing: PBKDF2-SHA256 (≥ 310,000 iterations, OWASP's figure for PBKDF2-SHA256) derives an AES-256-GCM
 * key from the passphrase and a random 16-byte salt; a random 12-byte IV; the file's header (format,
 * version, identity, KDF and cipher parameters) is the GCM additional data, so it cannot be edited
 * without the file failing to open.
 */
import type { PrivateJwk } from '@pixpax/shared'

export const BACKUP_FORMAT = 'pixpax-identity-backup'
export const MIN_ITERATIONS = 310_000
export const MIN_PASSPHRASE_LENGTH = 8

export interface BackupSecret {
  identityId: string
  accountId: string
  displayName?: string
  /** The recovery key (P-256 private JWK). */
  privateKey: PrivateJwk
}

export interface BackupHeader {
  format: typeof BACKUP_FORMAT
  v: 1
  identityId: string
  createdAt: string
  kdf: { name: 'PBKDF2'; hash: 'SHA-256'; iterations: number; salt: string }
  cipher: { name: 'AES-GCM'; iv: string }
}

export interface BackupFile extends BackupHeader {
  ciphertext: string
}

export type BackupErrorCode = 'NOT_A_BACKUP' | 'WEAK_PARAMETERS' | 'WRONG_PASSPHRASE' | 'PASSPHRASE_TOO_SHORT'

export class BackupError extends Error {
  override name = 'BackupError'
  constructor(
    readonly code: BackupErrorCode,
    message: string,
  ) {
    super(message)
  }
}

const b64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes))
const unb64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
const utf8 = new TextEncoder()

function headerBytes(header: BackupHeader): Uint8Array {
  // Fixed member order: the same bytes on export and import.
  const { format, v, identityId, createdAt, kdf, cipher } = header
  return utf8.encode(
    JSON.stringify({
      format,
      v,
      identityId,
      createdAt,
      kdf: { name: kdf.name, hash: kdf.hash, iterations: kdf.iterations, salt: kdf.salt },
      cipher: { name: cipher.name, iv: cipher.iv },
    }),
  )
}

async function deriveKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', utf8.encode(passphrase.normalize('NFC')), 'PBKDF2', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as BufferSource, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

export async function sealBackup(
  secret: BackupSecret,
  passphrase: string,
  options: { iterations?: number; now?: () => Date } = {},
): Promise<BackupFile> {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw new BackupError('PASSPHRASE_TOO_SHORT', `a backup passphrase needs at least ${MIN_PASSPHRASE_LENGTH} characters`)
  }
  const iterations = options.iterations ?? MIN_ITERATIONS
  if (iterations < MIN_ITERATIONS) throw new BackupError('WEAK_PARAMETERS', `PBKDF2 needs at least ${MIN_ITERATIONS} iterations`)
  const salt = crypto.getRandomValues(new Uint8Array(16))
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    v: 1,
    identityId: secret.identityId,
    createdAt: (options.now?.() ?? new Date()).toISOString(),
    kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations, salt: b64(salt) },
    cipher: { name: 'AES-GCM', iv: b64(iv) },
  }
  const key = await deriveKey(passphrase, salt, iterations)
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: headerBytes(header) as BufferSource },
    key,
    utf8.encode(JSON.stringify(secret)),
  )
  return { ...header, ciphertext: b64(new Uint8Array(ciphertext)) }
}

/** Parses a backup file's text and checks its header, before any passphrase is asked for. */
export function parseBackup(text: string): BackupFile {
  let file: Partial<BackupFile>
  try {
    file = JSON.parse(text) as Partial<BackupFile>
  } catch {
    throw new BackupError('NOT_A_BACKUP', 'this file is not a PixPax identity backup (not JSON)')
  }
  if (file?.format !== BACKUP_FORMAT || file.v !== 1 || typeof file.identityId !== 'string' || typeof file.ciphertext !== 'string') {
    throw new BackupError('NOT_A_BACKUP', 'this file is not a PixPax identity backup (v1)')
  }
  if (file.kdf?.name !== 'PBKDF2' || file.kdf.hash !== 'SHA-256' || file.cipher?.name !== 'AES-GCM') {
    throw new BackupError('NOT_A_BACKUP', 'this backup uses an unknown key derivation or cipher')
  }
  if (!Number.isInteger(file.kdf.iterations) || file.kdf.iterations < MIN_ITERATIONS || file.kdf.iterations > 10_000_000) {
    throw new BackupError('WEAK_PARAMETERS', `this backup's PBKDF2 iterations (${String(file.kdf.iterations)}) are out of range`)
  }
  return file as BackupFile
}

export async function openBackup(file: BackupFile, passphrase: string): Promise<BackupSecret> {
  let salt: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array
  try {
    salt = unb64(file.kdf.salt)
    iv = unb64(file.cipher.iv)
    ciphertext = unb64(file.ciphertext)
  } catch {
    throw new BackupError('NOT_A_BACKUP', 'this backup is damaged (bad base64)')
  }
  const key = await deriveKey(passphrase, salt, file.kdf.iterations)
  let plain: ArrayBuffer
  try {
    plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: iv as BufferSource, additionalData: headerBytes(file) as BufferSource },
      key,
      ciphertext as BufferSource,
    )
  } catch {
    throw new BackupError('WRONG_PASSPHRASE', 'wrong passphrase, or the file was altered')
  }
  const secret = JSON.parse(new TextDecoder().decode(plain)) as BackupSecret
  if (secret.identityId !== file.identityId) throw new BackupError('NOT_A_BACKUP', 'this backup names two different identities')
  return secret
}
