/**
 * Witness cosignatures (docs/log.md §11): a client that verified a checkpoint — signed by the relay key,
 * consistent with every checkpoint it saw before — may countersign it with its own identity key, so that
 * other clients can require k of n known witnesses before they trust a checkpoint: a relay that shows two
 * clients different trees cannot get both cosigned by the same honest witnesses.
 *
 * The format is C2SP tlog-cosignature v1 (a signed-note line over `cosignature/v1\ntime T\n` ‖ the
 * checkpoint body, carrying u64 timestamp ‖ signature) with one deviation: PixPax identity keys are ECDSA
 * P-256 (ARCHITECTURE §3), and the spec's types are Ed25519 (0x04) and ML-DSA-44 (0x06) only. So the
 * signature is a 64-byte low-S r‖s ECDSA P-256 / SHA-256 signature (the receipt encoding) and the key ID
 * uses the signed-note type byte 0xff ("no assigned identifier") followed by a PixPax identifier:
 *
 *   key ID = SHA-256(name ‖ 0x0A ‖ 0xff ‖ "pixpax-cosignature-ecdsa-p256/v1" ‖ SPKI DER)[:4]
 *
 * Standard witnesses and monitors ignore such lines (an unknown key), as signed-note requires.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { base64Encode, utf8Encode } from '../encoding.js'
import { jwkThumbprint, type PublicJwk } from '../crypto/jwk.js'
import type { SignatureVerifier, Signer } from '../crypto/types.js'
import { PixpaxError } from '../errors.js'
import { isValidNoteName, p256SpkiDer, parseCheckpoint, parseSignedNote, type Checkpoint } from './checkpoint.js'

/** The signed message's header line (tlog-cosignature v1). */
export const COSIGNATURE_HEADER = 'cosignature/v1'
/** What follows the 0xff type byte in a PixPax witness key ID. */
export const COSIGNATURE_TYPE_ID = 'pixpax-cosignature-ecdsa-p256/v1'
const NOTE_TYPE_UNASSIGNED = 0xff
const MAX_TIMESTAMP = 2 ** 53 - 1 // spec: ≤ 2^63 − 1; JavaScript numbers stay exact below 2^53

/** A witness a client trusts: the C2SP (name, public key) tuple. */
export interface WitnessKey {
  name: string
  publicKey: PublicJwk
}

/** The witness key name of a PixPax identity: `pixpax.witness/{identityId}` (any of its keys may cosign). */
export function witnessName(identityId: string): string {
  return `pixpax.witness/${identityId}`
}

/** The identity a PixPax witness name stands for, or undefined for another name. */
export function witnessIdentity(name: string): string | undefined {
  return /^pixpax\.witness\/([A-Za-z0-9_-]{1,64})$/.exec(name)?.[1]
}

/** The witness key ID (see the file comment) as a big-endian uint32. */
export function witnessKeyHash(key: WitnessKey): number {
  const name = utf8Encode(key.name)
  const type = utf8Encode(COSIGNATURE_TYPE_ID)
  const spki = p256SpkiDer(key.publicKey)
  const input = new Uint8Array(name.length + 2 + type.length + spki.length)
  input.set(name)
  input[name.length] = 0x0a
  input[name.length + 1] = NOTE_TYPE_UNASSIGNED
  input.set(type, name.length + 2)
  input.set(spki, name.length + 2 + type.length)
  const d = sha256(input)
  return ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0
}

/** The bytes a witness signs: `cosignature/v1\ntime {timestamp}\n` followed by the checkpoint body. */
export function cosignedMessage(body: string, timestamp: number): Uint8Array {
  return utf8Encode(`${COSIGNATURE_HEADER}\ntime ${timestamp}\n${body}`)
}

function checkTimestamp(timestamp: number): void {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0 || timestamp > MAX_TIMESTAMP)
    throw new RangeError('a cosignature timestamp is a non-negative integer of seconds since the epoch')
}

/**
 * Cosigns the checkpoint of a signed note (its body: the text before the signatures) and returns the
 * cosignature line `— {name} {base64(key ID ‖ u64 timestamp ‖ r‖s)}\n`. `timestamp` is in seconds since
 * the epoch. The caller must have verified the checkpoint first: a cosignature says "this is the largest
 * consistent tree I have seen of this log".
 */
export async function cosignCheckpoint(note: string, witness: { name: string; signer: Signer }, timestamp: number): Promise<string> {
  if (!isValidNoteName(witness.name)) throw new RangeError(`invalid witness name ${JSON.stringify(witness.name)}`)
  checkTimestamp(timestamp)
  const { text } = parseSignedNote(note)
  parseCheckpoint(text)
  const signature = await witness.signer.sign(cosignedMessage(text, timestamp))
  const keyHash = witnessKeyHash({ name: witness.name, publicKey: witness.signer.publicKey })
  const bytes = new Uint8Array(4 + 8 + 64)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, keyHash)
  view.setBigUint64(4, BigInt(timestamp))
  bytes.set(signature, 12)
  return `\u2014 ${witness.name} ${base64Encode(bytes)}\n`
}

/** A cosignature that verified. */
export interface VerifiedCosignature {
  name: string
  /** RFC 7638 thumbprint of the witness key. */
  publicKeyId: string
  /** Seconds since the epoch, as the witness stated it. */
  timestamp: number
}

/**
 * The cosignatures on a signed note by the given witnesses that verify over its checkpoint body. Lines
 * by keys not in the list are ignored (the relay's own, other witnesses'); a line whose name and key ID
 * match a listed witness but does not verify rejects the note (signed-note: a known key's bad signature),
 * LOG_INCONSISTENT with `details.reason` `bad-cosignature` — and so does a malformed note. Each witness
 * counts once.
 */
export async function verifyCosignatures(
  note: string,
  witnesses: readonly WitnessKey[],
  verifier: SignatureVerifier,
): Promise<{ checkpoint: Checkpoint; cosignatures: VerifiedCosignature[] }> {
  const { text, signatures } = parseSignedNote(note)
  const checkpoint = parseCheckpoint(text)
  const known = new Map(witnesses.map((w) => [`${w.name} ${witnessKeyHash(w)}`, w]))
  const found = new Map<string, VerifiedCosignature>()
  for (const sig of signatures) {
    const witness = known.get(`${sig.name} ${sig.keyHash}`)
    if (!witness) continue
    const bad = (why: string) =>
      new PixpaxError('LOG_INCONSISTENT', `the cosignature of ${witness.name} ${why}`, { reason: 'bad-cosignature', witness: witness.name })
    if (sig.signature.length !== 8 + 64) throw bad('is not a u64 timestamp and a 64-byte signature')
    const view = new DataView(sig.signature.buffer, sig.signature.byteOffset, sig.signature.byteLength)
    const timestamp = Number(view.getBigUint64(0))
    if (!Number.isSafeInteger(timestamp)) throw bad('has a timestamp beyond 2^53')
    if (!(await verifier.verify(witness.publicKey, cosignedMessage(text, timestamp), sig.signature.subarray(8))))
      throw bad('does not verify')
    const publicKeyId = jwkThumbprint(witness.publicKey)
    found.set(`${witness.name} ${publicKeyId}`, { name: witness.name, publicKeyId, timestamp })
  }
  // A witness is one name: two of its keys cosigning count once.
  const byName = new Map<string, VerifiedCosignature>()
  for (const c of found.values()) if (!byName.has(c.name)) byName.set(c.name, c)
  return { checkpoint, cosignatures: [...byName.values()] }
}

/**
 * Adds signature lines to a signed note (each `— name base64\n`), skipping any it already carries, so the
 * relay can serve its checkpoint with the cosignatures it collected.
 */
export function withSignatureLines(note: string, lines: readonly string[]): string {
  const have = new Set(note.slice(note.lastIndexOf('\n\n') + 2).split(/(?<=\n)/))
  let out = note
  for (const line of lines) {
    if (have.has(line)) continue
    have.add(line)
    out += line
  }
  return out
}

/** A client's witness policy: trust a checkpoint only once `required` of `witnesses` cosigned it. */
export interface WitnessPolicy {
  witnesses: readonly WitnessKey[]
  required: number
}

/**
 * The cosignatures by the policy's witnesses, if there are at least `required` of them; otherwise
 * LOG_INCONSISTENT with `details.reason` `not-witnessed` (and `details.cosigned`, the count found).
 */
export async function checkWitnessed(note: string, policy: WitnessPolicy, verifier: SignatureVerifier): Promise<VerifiedCosignature[]> {
  const { checkpoint, cosignatures } = await verifyCosignatures(note, policy.witnesses, verifier)
  if (cosignatures.length < policy.required)
    throw new PixpaxError(
      'LOG_INCONSISTENT',
      `the checkpoint of size ${checkpoint.size} has ${cosignatures.length} of the ${policy.required} witness cosignatures required`,
      { reason: 'not-witnessed', cosigned: cosignatures.length, required: policy.required },
    )
  return cosignatures
}
