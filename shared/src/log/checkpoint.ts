/**
 * The log's signed checkpoint (ARCHITECTURE §4, docs/log.md): a C2SP tlog-checkpoint note signed by the
 * relay key in a C2SP signed-note signature line of type 0x02 — ECDSA P-256 as transparency-dev implements
 * it (github.com/transparency-dev/formats, note/note_verifier.go, NewECDSAVerifier): an ASN.1 DER signature
 * over SHA-256(note text), key ID = the first 4 bytes of SHA-256(SPKI DER of the public key) — the name and
 * type byte are not hashed for this type — and vkey material 0x02 ‖ SPKI DER. A transparency-dev witness
 * given `verifierKeyString(…)` verifies these checkpoints as they are.
 */
import { p256 } from '@noble/curves/nist.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { PublicJwkSchema, jwkToUncompressed, uncompressedToJwk, type PublicJwk } from '../crypto/jwk.js'
import type { SignatureVerifier, Signer } from '../crypto/types.js'
import { base64Decode, base64Encode, utf8Encode } from '../encoding.js'
import { PixpaxError } from '../errors.js'
import { bytesEqual, HASH_SIZE } from './merkle.js'

/** The origin line (and signing key name) when the relay's `LOG_ORIGIN` is not set. */
export const DEFAULT_LOG_ORIGIN = 'pixpax.local/log'
/** C2SP signed-note signature type 0x02: ECDSA as github.com/transparency-dev/witness implements it. */
export const NOTE_SIGNATURE_TYPE_ECDSA = 0x02
/** Most signature lines a note may carry (signed-note requires accepting 16; golang.org/x/mod stops at 100). */
export const MAX_NOTE_SIGNATURES = 100
/** Longest signed note accepted, in UTF-16 code units. */
export const MAX_NOTE_LENGTH = 64 * 1024

/**
 * DER SubjectPublicKeyInfo header of every uncompressed P-256 key (RFC 5480): SEQUENCE { SEQUENCE { OID
 * id-ecPublicKey 1.2.840.10045.2.1, OID prime256v1 1.2.840.10045.3.1.7 }, BIT STRING (0 unused bits) … }.
 * The 65-byte point 0x04‖x‖y follows, 91 bytes in all. The key is fixed-size, so the header is a constant.
 */
const P256_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
  0x03, 0x42, 0x00,
])

/** A tree head: which log, how many leaves, which root. */
export interface Checkpoint {
  readonly origin: string
  readonly size: number
  readonly root: Uint8Array
}

/** The key a checkpoint is verified against: the signing key's name (= the origin) and public key. */
export interface NoteVerifierKey {
  readonly name: string
  readonly publicKey: PublicJwk
}

/** One parsed signature line of a signed note. */
export interface NoteSignature {
  readonly name: string
  /** The 32-bit key ID, as a number. */
  readonly keyHash: number
  /** The signature bytes after the key ID. */
  readonly signature: Uint8Array
}

function fail(reason: string, message: string): PixpaxError {
  return new PixpaxError('LOG_INCONSISTENT', message, { reason })
}

// Go's unicode.IsSpace, plus U+FEFF (JavaScript's \s includes it): none may appear in a key name.
const SPACE_OR_PLUS = /[\s\u0085+]/u
const LONE_SURROGATE = /\p{Cs}/u

/** Whether the text has an ASCII control character other than newline (signed-note forbids them). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 && c !== 0x0a) return true
  }
  return false
}

/** Whether a key name (and PixPax origin) is valid: non-empty, no Unicode space, no `+`, no control character. */
export function isValidNoteName(name: string): boolean {
  return name.length > 0 && !SPACE_OR_PLUS.test(name) && !hasControl(name) && !LONE_SURROGATE.test(name) && !name.includes('\n')
}

/**
 * The checkpoint body: `{origin}\n{size}\n{base64 root}\n`. The origin must be a valid note name (PixPax
 * signs with key name = origin), the size a safe integer, the root 32 bytes. No extension lines.
 */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, root } = checkpoint
  if (!isValidNoteName(origin)) throw new RangeError(`invalid checkpoint origin ${JSON.stringify(origin)}`)
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid tree size ${size}`)
  if (root.length !== HASH_SIZE) throw new RangeError('the root hash must be 32 bytes')
  return `${origin}\n${size}\n${base64Encode(root)}\n`
}

/**
 * Parses a checkpoint body (the note text, without signatures), strictly: exactly three newline-terminated
 * lines — an origin that is a valid note name, a decimal size without leading zeros (at most 2^53 − 1), a
 * 32-byte root in canonical padded base64 — and no extension lines. Throws LOG_INCONSISTENT.
 */
export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n')
  if (lines.length !== 4 || lines[3] !== '') {
    throw fail('malformed-checkpoint', 'a checkpoint is exactly three newline-terminated lines (origin, size, root)')
  }
  const [origin, sizeText, rootText] = lines as [string, string, string, string]
  if (!isValidNoteName(origin)) throw fail('malformed-checkpoint', `invalid checkpoint origin ${JSON.stringify(origin)}`)
  const size = Number(sizeText)
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(size))
    throw fail('malformed-checkpoint', `invalid tree size ${JSON.stringify(sizeText)}`)
  const root = base64Decode(rootText)
  if (!root || root.length !== HASH_SIZE) throw fail('malformed-checkpoint', 'the root hash must be 32 bytes in padded base64')
  return { origin, size, root }
}

/** The DER SubjectPublicKeyInfo of a P-256 public key (91 bytes): what signature type 0x02 hashes and publishes. */
export function p256SpkiDer(publicKey: PublicJwk): Uint8Array {
  const out = new Uint8Array(P256_SPKI_PREFIX.length + 65)
  out.set(P256_SPKI_PREFIX)
  out.set(jwkToUncompressed(publicKey), P256_SPKI_PREFIX.length)
  return out
}

/**
 * The note key ID of a P-256 key for signature type 0x02: the first four bytes, big-endian, of
 * SHA-256(SPKI DER). Unlike Ed25519 note keys, neither the key name nor the type byte is hashed — that is
 * how transparency-dev/formats (`keyHashECDSA`) computes it, and what its verifiers check.
 */
export function noteKeyHash(publicKey: PublicJwk): number {
  const digest = sha256(p256SpkiDer(publicKey))
  return ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0
}

/** A key ID as 8 lowercase hex digits, as vkeys spell it. */
export function keyHashHex(keyHash: number): string {
  return keyHash.toString(16).padStart(8, '0')
}

/** The signed-note verifier key: `{name}+{hex key ID}+{base64(0x02 ‖ SPKI DER)}`, what a witness is configured with. */
export function verifierKeyString(name: string, publicKey: PublicJwk): string {
  if (!isValidNoteName(name)) throw new RangeError(`invalid note key name ${JSON.stringify(name)}`)
  const material = new Uint8Array(1 + 91)
  material[0] = NOTE_SIGNATURE_TYPE_ECDSA
  material.set(p256SpkiDer(publicKey), 1)
  return `${name}+${keyHashHex(noteKeyHash(publicKey))}+${base64Encode(material)}`
}

/**
 * Parses a type-0x02 P-256 verifier key string (as `verifierKeyString` writes it), checking that the key ID
 * is the one the key hashes to and that the point is on the curve. Throws SCHEMA_INVALID.
 */
export function parseVerifierKey(vkey: string): NoteVerifierKey & { readonly keyHash: number } {
  const bad = (why: string) => new PixpaxError('SCHEMA_INVALID', `verifier key: ${why}`)
  const first = vkey.indexOf('+')
  const second = vkey.indexOf('+', first + 1)
  if (first < 0 || second < 0) throw bad('expected name+keyhash+key')
  const name = vkey.slice(0, first)
  const hashText = vkey.slice(first + 1, second)
  if (!isValidNoteName(name)) throw bad('invalid key name')
  if (!/^[0-9a-f]{8}$/.test(hashText)) throw bad('the key hash must be 8 lowercase hex digits')
  const material = base64Decode(vkey.slice(second + 1))
  if (!material || material.length !== 92 || material[0] !== NOTE_SIGNATURE_TYPE_ECDSA) throw bad('not a 0x02 ECDSA P-256 key')
  if (!bytesEqual(material.subarray(1, 1 + P256_SPKI_PREFIX.length), P256_SPKI_PREFIX)) throw bad('not an uncompressed P-256 SPKI')
  const point = PublicJwkSchema.safeParse(safeJwk(material.subarray(1 + P256_SPKI_PREFIX.length)))
  if (!point.success) throw bad('the public key is not a P-256 point')
  const keyHash = Number.parseInt(hashText, 16)
  if (keyHash !== noteKeyHash(point.data)) throw bad(`key hash ${hashText} does not match the key (${keyHashHex(noteKeyHash(point.data))})`)
  return { name, keyHash, publicKey: point.data }
}

function safeJwk(point: Uint8Array): unknown {
  try {
    return uncompressedToJwk(point)
  } catch {
    return undefined
  }
}

/**
 * Splits a signed note into its text (ending in its final newline) and signature lines, per C2SP
 * signed-note: valid UTF-8 without control characters other than newline, the text separated from the
 * signatures by the last blank line, each line `— {name} {base64(key ID ‖ signature)}`. Throws
 * LOG_INCONSISTENT (reason `malformed-note`).
 */
export function parseSignedNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (note.length > MAX_NOTE_LENGTH) throw fail('malformed-note', 'signed note is too long')
  if (hasControl(note) || LONE_SURROGATE.test(note))
    throw fail('malformed-note', 'signed note contains control characters or invalid UTF-16')
  const split = note.lastIndexOf('\n\n')
  if (split < 0) throw fail('malformed-note', 'signed note has no blank line before its signatures')
  const text = note.slice(0, split + 1)
  const block = note.slice(split + 2)
  if (block.length === 0 || !block.endsWith('\n'))
    throw fail('malformed-note', 'signed note must end with newline-terminated signature lines')
  const lines = block.slice(0, -1).split('\n')
  if (lines.length > MAX_NOTE_SIGNATURES) throw fail('malformed-note', `signed note has more than ${MAX_NOTE_SIGNATURES} signatures`)
  const signatures = lines.map((line): NoteSignature => {
    const m = /^\u2014 ([^ ]+) ([^ ]+)$/.exec(line)
    const bytes = m ? base64Decode(m[2]!) : undefined
    if (!m || !isValidNoteName(m[1]!) || !bytes || bytes.length < 5)
      throw fail('malformed-note', `malformed signature line ${JSON.stringify(line)}`)
    const keyHash = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0
    return { name: m[1]!, keyHash, signature: bytes.slice(4) }
  })
  return { text, signatures }
}

/**
 * Signs a checkpoint: the full signed note `{body}\n— {name} {base64(key ID ‖ DER signature)}\n`. The
 * signer's 64-byte r‖s signature over SHA-256(body) is re-encoded as ASN.1 DER (by @noble/curves), as type
 * 0x02 requires. `name` should be the origin (tlog-checkpoint: the key name SHOULD match the origin line).
 */
export async function signCheckpoint(checkpoint: Checkpoint, name: string, signer: Signer): Promise<string> {
  if (!isValidNoteName(name)) throw new RangeError(`invalid note key name ${JSON.stringify(name)}`)
  const body = formatCheckpoint(checkpoint)
  const compact = await signer.sign(utf8Encode(body))
  const der = p256.Signature.fromBytes(compact, 'compact').toBytes('der')
  const keyHash = noteKeyHash(signer.publicKey)
  const line = new Uint8Array(4 + der.length)
  line.set([keyHash >>> 24, (keyHash >>> 16) & 0xff, (keyHash >>> 8) & 0xff, keyHash & 0xff])
  line.set(der, 4)
  return `${body}\n\u2014 ${name} ${base64Encode(line)}\n`
}

/** Options of `verifySignedCheckpoint`. */
export interface VerifyCheckpointOptions {
  /** The origin the checkpoint must carry; default: the key's name (PixPax signs with name = origin). */
  readonly origin?: string
}

/**
 * Verifies a signed checkpoint note against the relay's key and returns the checkpoint. Per C2SP signed-note:
 * signature lines by other keys (another name, or the same name with another key ID — witnesses'
 * cosignatures, a rotated key) are ignored; every line by this key (same name and key ID) must verify —
 * a DER signature over SHA-256(note text) — and at least one must be present. Then the text must be a
 * strict checkpoint with the expected origin. Throws LOG_INCONSISTENT with `details.reason` one of
 * `malformed-note`, `no-trusted-signature`, `bad-signature`, `malformed-checkpoint`, `wrong-origin`.
 */
export async function verifySignedCheckpoint(
  note: string,
  key: NoteVerifierKey,
  verifier: SignatureVerifier,
  options: VerifyCheckpointOptions = {},
): Promise<Checkpoint> {
  const { text, signatures } = parseSignedNote(note)
  const keyHash = noteKeyHash(key.publicKey)
  const data = utf8Encode(text)
  let verified = 0
  for (const sig of signatures) {
    if (sig.name !== key.name || sig.keyHash !== keyHash) continue
    let compact: Uint8Array
    try {
      compact = p256.Signature.fromBytes(sig.signature, 'der').toBytes('compact')
    } catch {
      throw fail('bad-signature', `the signature by ${key.name} is not a DER ECDSA signature`)
    }
    if (!(await verifier.verify(key.publicKey, data, compact))) throw fail('bad-signature', `the signature by ${key.name} does not verify`)
    verified++
  }
  if (verified === 0)
    throw fail('no-trusted-signature', `the checkpoint carries no signature by ${key.name} (key ID ${keyHashHex(keyHash)})`)
  const checkpoint = parseCheckpoint(text)
  const origin = options.origin ?? key.name
  if (checkpoint.origin !== origin)
    throw fail('wrong-origin', `checkpoint origin ${JSON.stringify(checkpoint.origin)} is not ${JSON.stringify(origin)}`)
  return checkpoint
}
