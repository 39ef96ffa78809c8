/**
 * Offline proof bundles (docs/log.md §10): an NDJSON export that carries, besides the receipts, the relay's
 * signed checkpoint and an RFC 9162 inclusion proof of every receipt in that checkpoint's tree, so anyone
 * holding the relay's key can check with no network that each receipt is in the relay's log at its
 * position — and, since positions strictly increase, that the file is in log order, which is what makes
 * key validity by position checkable offline (ARCHITECTURE §3).
 *
 *   line 1            {"bundle":"pixpax-proof-bundle/v1","checkpoint":"<signed note>","relay":{"publicKeyId":…,"publicKey":JWK}}
 *   then per receipt  <the receipt, exactly as a plain export writes it>
 *                     {"inclusion":{"position":P,"seq":S,"hashes":[base64…]}}
 *
 * This module is the format and its checks, pure: the writer is `exportNdjson` (client-sdk), the reader
 * `pixpax verify --log` (shared/src/cli/verify-bundle.ts).
 */
import { z } from 'zod'
import { base64Decode, base64Encode } from '../encoding.js'
import { jwkThumbprint, PublicJwkSchema, type PublicJwk } from '../crypto/jwk.js'
import type { Sha256, SignatureVerifier } from '../crypto/types.js'
import { PixpaxError } from '../errors.js'
import { parseStrictJson } from '../strict-json.js'
import { verifySignedCheckpoint, MAX_NOTE_LENGTH, type Checkpoint } from './checkpoint.js'
import { leafData, leafHash, MAX_PROOF_HASHES, verifyInclusion } from './merkle.js'

/** The value of the header's `bundle` member: names the format and its version. */
export const PROOF_BUNDLE_FORMAT = 'pixpax-proof-bundle/v1'

const ProofHash = z.string().refine((s) => base64Decode(s)?.length === 32, 'a 32-byte hash in padded base64')

const BundleHeaderSchema = z.strictObject({
  bundle: z.literal(PROOF_BUNDLE_FORMAT),
  checkpoint: z.string().min(1).max(MAX_NOTE_LENGTH),
  relay: z.strictObject({ publicKeyId: z.string().min(1).max(128), publicKey: PublicJwkSchema }),
})

const InclusionLineSchema = z.strictObject({
  inclusion: z.strictObject({
    position: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    hashes: z.array(ProofHash).max(MAX_PROOF_HASHES),
  }),
})

/** The first line of a bundle. */
export interface BundleHeader {
  /** The signed checkpoint note, exactly as the relay published it. */
  checkpoint: string
  /** The relay key that signed it (a JWK: a thumbprint alone cannot verify a signature). */
  relay: { publicKeyId: string; publicKey: PublicJwk }
}

/** The proof line that follows each receipt. */
export interface InclusionLine {
  position: number
  seq: number
  hashes: Uint8Array[]
}

/** The header line (with its newline). */
export function formatBundleHeader(header: BundleHeader): string {
  const { publicKeyId, publicKey } = header.relay
  const jwk = { kty: publicKey.kty, crv: publicKey.crv, x: publicKey.x, y: publicKey.y }
  return JSON.stringify({ bundle: PROOF_BUNDLE_FORMAT, checkpoint: header.checkpoint, relay: { publicKeyId, publicKey: jwk } }) + '\n'
}

/** The proof line of one receipt (with its newline). */
export function formatInclusionLine(line: InclusionLine): string {
  return JSON.stringify({ inclusion: { position: line.position, seq: line.seq, hashes: line.hashes.map(base64Encode) } }) + '\n'
}

/** Whether a line is a proof line (cheap: a receipt never has an `inclusion` member, and its first member is not that). */
export function isInclusionLine(text: string): boolean {
  return /^\s*\{\s*"inclusion"\s*:/.test(text)
}

function schemaError(what: string, error: z.ZodError): PixpaxError {
  const issue = error.issues[0]
  return new PixpaxError('SCHEMA_INVALID', `${what}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`)
}

/** Parses a proof line strictly. Throws JSON_INVALID / DUPLICATE_KEY / SCHEMA_INVALID. */
export function parseInclusionLine(text: string): InclusionLine {
  const parsed = InclusionLineSchema.safeParse(parseStrictJson(text))
  if (!parsed.success) throw schemaError('inclusion proof line', parsed.error)
  const { position, seq, hashes } = parsed.data.inclusion
  return { position, seq, hashes: hashes.map((h) => base64Decode(h)!) }
}

/** Where the verifier took the relay key from. */
export type RelayKeySource = 'pinned' | 'bundle'

/** A verified bundle header: the tree every proof is checked against. */
export interface VerifiedBundleHeader {
  checkpoint: Checkpoint
  relay: { publicKeyId: string; publicKey: PublicJwk; source: RelayKeySource }
}

/**
 * Verifies a bundle's header line: its relay key is the one its id names (RFC 7638 thumbprint) and, when
 * `pinnedKeyId` is given, the pinned one (else KEY_UNKNOWN); the checkpoint verifies under that key, with
 * the origin its own first line names (else LOG_INCONSISTENT, `details.reason` as verifySignedCheckpoint).
 * Without a pin the key is taken from the bundle (`source: 'bundle'`): that proves the bundle is
 * self-consistent, not that this relay is the one you meant — the caller says so.
 */
export async function verifyBundleHeader(
  text: string,
  options: { verifier: SignatureVerifier; pinnedKeyId?: string | undefined },
): Promise<VerifiedBundleHeader> {
  const parsed = BundleHeaderSchema.safeParse(parseStrictJson(text))
  if (!parsed.success) throw schemaError('proof bundle header', parsed.error)
  const { checkpoint: note, relay } = parsed.data
  const publicKey: PublicJwk = { kty: 'EC', crv: 'P-256', x: relay.publicKey.x, y: relay.publicKey.y }
  const thumbprint = jwkThumbprint(publicKey)
  if (thumbprint !== relay.publicKeyId)
    throw new PixpaxError(
      'KEY_UNKNOWN',
      `the bundle names relay key ${relay.publicKeyId} but carries a key whose thumbprint is ${thumbprint}`,
    )
  if (options.pinnedKeyId !== undefined && thumbprint !== options.pinnedKeyId)
    throw new PixpaxError('KEY_UNKNOWN', `the bundle is signed by relay key ${thumbprint}, not the pinned ${options.pinnedKeyId}`, {
      bundle: thumbprint,
      pinned: options.pinnedKeyId,
    })
  const origin = note.slice(0, Math.max(0, note.indexOf('\n')))
  const checkpoint = await verifySignedCheckpoint(note, { name: origin, publicKey }, options.verifier, { origin })
  return { checkpoint, relay: { publicKeyId: thumbprint, publicKey, source: options.pinnedKeyId !== undefined ? 'pinned' : 'bundle' } }
}

/**
 * Checks each receipt's inclusion proof, in file order, against a verified header. Positions must strictly
 * increase (the file is in log order) and be below the checkpoint's size.
 */
export class InclusionChecker {
  private last = -1
  private proven = 0

  constructor(
    private readonly sha256: Sha256,
    private readonly checkpoint: Checkpoint,
  ) {}

  /** Receipts proven so far. */
  get count(): number {
    return this.proven
  }

  /**
   * Checks that the verified receipt (its stream key, eventId, hash and the seq its chain gave it) is the
   * leaf at `line.position`. Throws LOG_INCONSISTENT with `details.reason` `order`, `beyond-checkpoint`,
   * `seq` or `inclusion`.
   */
  check(receipt: { streamKey: string; eventId: string; hash: string; seq: number }, line: InclusionLine): void {
    const { position } = line
    if (position <= this.last)
      throw fail('order', `position ${position} does not follow position ${this.last}: the bundle is not in log order`)
    this.last = position
    if (position >= this.checkpoint.size)
      throw fail('beyond-checkpoint', `position ${position} is not in the checkpoint's tree of size ${this.checkpoint.size}`)
    if (line.seq !== receipt.seq)
      throw fail('seq', `the proof is for seq ${line.seq}, the receipt is at seq ${receipt.seq} of ${receipt.streamKey}`)
    const leaf = leafHash(
      this.sha256,
      leafData({ eventId: receipt.eventId, hash: receipt.hash, seq: receipt.seq, stream: receipt.streamKey }),
    )
    if (!verifyInclusion(this.sha256, position, this.checkpoint.size, leaf, line.hashes, this.checkpoint.root))
      throw fail('inclusion', `the receipt is not leaf ${position} of the checkpoint's tree (the inclusion proof does not verify)`)
    this.proven++
  }
}

function fail(reason: string, message: string): PixpaxError {
  return new PixpaxError('LOG_INCONSISTENT', message, { reason })
}
