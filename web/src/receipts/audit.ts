/**
 * "Receipts you can verify": everything in this device's local log checked again, here, with the shared
 * rules — not taken from the relay's word, nor from the sync client's earlier checks:
 * - signature, chain and key: every receipt re-verified in acceptance order by shared's ChainVerifier
 *   (hash, ECDSA signature, prev links, the key valid at its position — as `pixpax verify` does);
 * - relay ack: for our own receipts, the ack the relay signed when it accepted them (kept in the log, or
 *   stored into it by the sync client when the delivery overtook the push answer), verified under the pinned relay
 *   key, naming this receipt at this seq and position;
 * - checkpoint: the newest signed checkpoint held (its note verified under the relay key); a receipt is
 *   in it when its position is below the tree size (its inclusion proof was verified when it was
 *   delivered — the sync client logs nothing it could not prove).
 * What the sync client refused (quarantine) is listed per stream, red, with its code and reason.
 */
import type { LocalLog, LoggedReceipt, OutboxEntry, QuarantineEntry, RelayPin, SyncClient } from '@pixpax/client-sdk'
import {
  canonicalBytes,
  ChainVerifier,
  parseSignature,
  verifySignedCheckpoint,
  webCryptoVerifier,
  type Checkpoint,
  type Receipt,
} from '@pixpax/shared'

export type Badge = { ok: true } | { ok: false; reason: string } | { ok: null; reason: string }

export interface AuditedReceipt {
  receipt: Receipt
  seq: number
  position: number | undefined
  signature: Badge
  chain: Badge
  key: Badge
  ack: Badge
  checkpoint: Badge
  /** Every badge that applies is green. */
  verified: boolean
}

export interface AuditedStream {
  streamKey: string
  receipts: AuditedReceipt[]
  /** Deliveries the sync client refused: the stream is red while any is listed. */
  quarantined: QuarantineEntry[]
  /** Our receipts not yet verified back from the relay (queued, sent, or acked but not delivered). */
  pending: OutboxEntry[]
}

export interface Audit {
  streams: AuditedStream[]
  checkpoint?: { size: number; origin: string; note: string; valid: Badge; cosignatures: number }
  relay?: RelayPin
  /** Messages refused before any stream was known (malformed, a key change, a forked log). */
  general: QuarantineEntry[]
}

const SIGNATURE_CODES = new Set(['SIGNATURE_INVALID', 'SIGNATURE_NOT_CANONICAL', 'HASH_MISMATCH', 'SCHEMA_INVALID', 'JSON_INVALID'])
const KEY_CODES = new Set(['KEY_UNKNOWN', 'KEY_REVOKED', 'NOT_AUTHORIZED'])

async function verifyAck(logged: LoggedReceipt, relay: RelayPin | undefined): Promise<Badge> {
  const ack = logged.ack
  if (!ack) return { ok: null, reason: 'not ours: no ack to check' }
  if (!relay) return { ok: false, reason: 'no relay key pinned' }
  if (
    ack.stream !== logged.streamKey ||
    ack.seq !== logged.seq ||
    ack.eventId !== logged.receipt.eventId ||
    ack.hash !== logged.receipt.hash
  )
    return { ok: false, reason: 'the ack names another receipt' }
  if (ack.position !== logged.position) return { ok: false, reason: `acked at position ${ack.position}, logged at ${logged.position}` }
  if (ack.relayKeyId !== relay.publicKeyId) return { ok: false, reason: `signed by ${ack.relayKeyId}, not the pinned relay key` }
  const { signature, ...body } = ack
  try {
    const valid = await webCryptoVerifier().verify(relay.publicKey, canonicalBytes(body), parseSignature(signature))
    return valid ? { ok: true } : { ok: false, reason: 'the ack signature does not verify' }
  } catch (error) {
    return { ok: false, reason: (error as Error).message }
  }
}

export async function auditLocalLog(log: LocalLog, client: SyncClient): Promise<Audit> {
  const all: LoggedReceipt[] = []
  for await (const logged of log.scan()) all.push(logged)
  all.sort((a, b) => (a.position ?? Number.MAX_SAFE_INTEGER) - (b.position ?? Number.MAX_SAFE_INTEGER))
  const relay = client.relayPin
  const held = client.checkpoint
  let checkpoint: Audit['checkpoint']
  let tree: Checkpoint | undefined
  if (held) {
    let valid: Badge
    try {
      if (!relay) throw new Error('no relay key pinned')
      tree = await verifySignedCheckpoint(held.note, { name: held.origin, publicKey: relay.publicKey }, webCryptoVerifier())
      valid = { ok: true }
    } catch (error) {
      valid = { ok: false, reason: (error as Error).message }
    }
    // Lines signed by other keys: witnesses' cosignatures (no witness keys are configured to check them).
    const lines = held.note.split('\n').filter((l) => l.startsWith('\u2014 '))
    checkpoint = { size: held.size, origin: held.origin, note: held.note, valid, cosignatures: Math.max(0, lines.length - 1) }
  }

  const chain = new ChainVerifier({ verifier: webCryptoVerifier() })
  const streams = new Map<string, AuditedStream>()
  const streamOf = (key: string) => {
    let s = streams.get(key)
    if (!s) streams.set(key, (s = { streamKey: key, receipts: [], quarantined: [], pending: [] }))
    return s
  }
  for (const logged of all) {
    const verdict = await chain.add(logged.receipt)
    const failed = verdict.ok ? undefined : `${verdict.code}: ${verdict.message}`
    const code = verdict.ok ? '' : verdict.code
    const signature: Badge = !failed || !SIGNATURE_CODES.has(code) ? { ok: true } : { ok: false, reason: failed }
    const key: Badge = !failed || !KEY_CODES.has(code) ? { ok: true } : { ok: false, reason: failed }
    const chained: Badge = !failed || SIGNATURE_CODES.has(code) || KEY_CODES.has(code) ? { ok: true } : { ok: false, reason: failed }
    const ack = await verifyAck(logged, relay)
    const inCheckpoint: Badge =
      logged.position === undefined
        ? { ok: false, reason: 'no log position (imported)' }
        : !tree || checkpoint?.valid.ok !== true
          ? { ok: false, reason: 'no valid signed checkpoint held' }
          : logged.position < tree.size
            ? { ok: true }
            : { ok: false, reason: `position ${logged.position} is beyond the checkpoint (size ${tree.size})` }
    const badges = [signature, chained, key, ack, inCheckpoint]
    streamOf(logged.streamKey).receipts.push({
      receipt: logged.receipt,
      seq: logged.seq,
      position: logged.position,
      signature,
      chain: chained,
      key,
      ack,
      checkpoint: inCheckpoint,
      verified: badges.every((b) => b.ok !== false),
    })
  }
  const general: QuarantineEntry[] = []
  for (const q of await log.listQuarantine()) {
    if (q.streamKey) streamOf(q.streamKey).quarantined.push(q)
    else general.push(q)
  }
  for (const e of client.pending()) streamOf(e.streamKey).pending.push(e)
  return {
    streams: [...streams.values()].sort((a, b) => a.streamKey.localeCompare(b.streamKey)),
    ...(checkpoint ? { checkpoint } : {}),
    ...(relay ? { relay } : {}),
    general,
  }
}
