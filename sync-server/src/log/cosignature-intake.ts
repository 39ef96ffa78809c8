/**
 * `POST /v1/log/cosignatures` (docs/log.md §11): a witness — any identity, with one of its valid keys —
 * hands the relay its cosignature of a checkpoint. Like a signed receipt it needs no session: it is its
 * own authentication. The relay keeps it only if the cosigned checkpoint is one of its own (the root of
 * its log at that size) and the line verifies under that identity key; it never vouches for more.
 */
import {
  base64Decode,
  bytesEqual,
  hashAtFromTiles,
  parseCheckpoint,
  parseSignedNote,
  PixpaxError,
  PublicJwkSchema,
  rangeHash,
  verifyCosignatures,
  witnessKeyHash,
  witnessName,
  type PublicJwk,
  type Sha256,
  type SignatureVerifier,
  type TileReader,
} from '@pixpax/shared'
import { z } from 'zod'
import type { Queryable } from '../db/projection-db.js'
import { ApiError } from '../errors.js'
import type { CosignatureStore } from './cosignature-store.js'

export const CosignatureBodySchema = z.strictObject({
  identityId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  publicKeyId: z.string().min(1).max(128),
  /** The checkpoint cosigned: its signed note as the relay served it, or just its body. */
  checkpoint: z
    .string()
    .min(1)
    .max(64 * 1024),
  /** One signature line, `— pixpax.witness/{identityId} base64(…)` with its newline (added if missing). */
  cosignature: z.string().min(1).max(1024),
})
export type CosignatureBody = z.infer<typeof CosignatureBodySchema>

export interface CosignatureIntakeDeps {
  db: Queryable
  sha256: Sha256
  verifier: SignatureVerifier
  reader: TileReader
  cosignatures: CosignatureStore
}

/** Verifies and stores one cosignature; resolves to what was cosigned and whether it was new. */
export async function acceptCosignature(
  deps: CosignatureIntakeDeps,
  body: CosignatureBody,
): Promise<{ size: number; witness: string; stored: 'created' | 'exists' }> {
  const { rows: keys } = await deps.db.query<{ public_key: PublicJwk | string; revoked_position: number | null }>(
    'SELECT public_key, revoked_position FROM identity_keys WHERE identity_id = $1 AND public_key_id = $2',
    [body.identityId, body.publicKeyId],
  )
  const key = keys[0]
  if (!key) throw new ApiError('KEY_UNKNOWN', `identity ${body.identityId} has no key ${body.publicKeyId}`)
  if (key.revoked_position !== null) throw new ApiError('KEY_REVOKED', `key ${body.publicKeyId} of ${body.identityId} is revoked`)
  const publicKey = PublicJwkSchema.parse(typeof key.public_key === 'string' ? JSON.parse(key.public_key) : key.public_key)

  let text: string
  let cosigned: ReturnType<typeof parseCheckpoint>
  try {
    text = body.checkpoint.includes('\n\n') ? parseSignedNote(body.checkpoint).text : body.checkpoint
    cosigned = parseCheckpoint(text)
  } catch (error) {
    if (!(error instanceof PixpaxError)) throw error
    throw new ApiError('BAD_REQUEST', `checkpoint: ${error.message}`)
  }
  await assertOurCheckpoint(deps, cosigned)

  const witness = { name: witnessName(body.identityId), publicKey }
  const line = body.cosignature.endsWith('\n') ? body.cosignature : `${body.cosignature}\n`
  const m = /^\u2014 (\S+) (\S+)\n$/.exec(line)
  const bytes = m ? base64Decode(m[2]!) : undefined
  const keyHash = witnessKeyHash(witness)
  if (!m || m[1] !== witness.name || !bytes || bytes.length < 4 || new DataView(bytes.buffer).getUint32(0) !== keyHash)
    throw new ApiError('SIGNATURE_INVALID', `not a cosignature line by ${witness.name} with key ${body.publicKeyId}`)
  try {
    const { cosignatures } = await verifyCosignatures(`${text}\n${line}`, [witness], deps.verifier)
    if (cosignatures.length !== 1) throw new ApiError('SIGNATURE_INVALID', 'the cosignature does not verify')
  } catch (error) {
    if (error instanceof PixpaxError) throw new ApiError('SIGNATURE_INVALID', error.message)
    throw error
  }
  const stored = await deps.cosignatures.add(cosigned.size, body.identityId, keyHash, line)
  return { size: cosigned.size, witness: witness.name, stored }
}

/** The cosigned checkpoint must be this log's tree at that size: same origin, a size it reached, its root. */
async function assertOurCheckpoint(deps: CosignatureIntakeDeps, cosigned: ReturnType<typeof parseCheckpoint>): Promise<void> {
  const { rows } = await deps.db.query<{ size: number; note: string }>('SELECT size, note FROM log_checkpoint')
  if (!rows[0]?.note) throw new ApiError('UNAVAILABLE', 'the log has no checkpoint yet')
  const current = parseCheckpoint(parseSignedNote(rows[0].note).text)
  const notOurs = (why: string) =>
    new ApiError('BAD_REQUEST', `the cosigned checkpoint is not this relay's: ${why}`, { reason: 'not-this-log' })
  if (cosigned.origin !== current.origin) throw notOurs(`origin ${cosigned.origin}, this log is ${current.origin}`)
  if (cosigned.size === 0 || cosigned.size > current.size) throw notOurs(`size ${cosigned.size}, this log has ${current.size}`)
  const root =
    cosigned.size === current.size
      ? current.root
      : await rangeHash(deps.sha256, 0, cosigned.size, hashAtFromTiles(deps.sha256, current.size, deps.reader))
  if (!bytesEqual(root, cosigned.root)) throw notOurs(`this log's tree of size ${cosigned.size} has another root`)
}
