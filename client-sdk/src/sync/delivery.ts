/**
 * Verification of what the relay delivers, apart from what the engine then does with the verdict
 * (log it, hold the stream for a key, quarantine it): the batch's seqs, each receipt in order against the
 * ledger (hash, signature, key valid at its position, authority, chain, seq), signature checks started
 * ahead for a parallel verifier, and the relay's acks of our own pushes.
 */
import {
  canonicalBytes,
  checkReceipt,
  evaluateReceipt,
  parseSignature,
  PixpaxError,
  reusingVerifier,
  startVerification,
  type Ack,
  type Checkpoint,
  type CheckedReceipt,
  type EarlyVerification,
  type PublicJwk,
  type Receipt,
  type Sha256,
  type SignatureVerifier,
  type TrustPolicy,
} from '@pixpax/shared'
import type { LoggedReceipt } from '../storage/local-log.js'
import type { ClientLedger } from './client-ledger.js'
import type { RelayPin } from './relay-trust.js'
import type { TimeSlicer } from './time-slicer.js'

/** The client never uses a receipt's whole canonical text: not building it is a string less per receipt in flight. */
const NO_TEXT = { text: false } as const

/** One receipt of a `receipts` message. */
export interface Delivered {
  seq: number
  position: number
  receipt: unknown
}

/** A receipt checked on its own ahead of its turn, with its signature check under way. */
export interface Early {
  /** The receipt already checked on its own (undefined: it failed; the in-order check reports why). */
  checked: CheckedReceipt | undefined
  receipt: EarlyVerification | undefined
}

/** A batch's proof: the verified checkpoint it was sent with and the inclusion proof of its leaves. */
export interface BatchProof {
  checkpoint: Checkpoint
  proof: string[]
}

/** What verifying one delivered receipt found. */
export type DeliveryVerdict =
  /** Verified and applied to the ledger: to be logged. */
  | { kind: 'verified'; logged: LoggedReceipt }
  /** The receipt we already hold at that seq: nothing to do. */
  | { kind: 'held' }
  /** Refused with a PixPax code (KEY_UNKNOWN may only mean its key has not arrived yet). */
  | { kind: 'refused'; code: PixpaxError['code']; message: string }

/** What verifyDelivered reads and updates. */
export interface DeliveryContext {
  /** The logged receipt at `seq` of the stream (a seq below the head: the relay delivered it again). */
  readLogged(streamKey: string, seq: number): Promise<LoggedReceipt | undefined>
  ledger: ClientLedger
  /** The logged head of the stream (what the delivery must continue). */
  head: LoggedReceipt | undefined
  verifier: SignatureVerifier
  sha256: Sha256
  trust: TrustPolicy
}

/** Seqs of a batch are consecutive, and it starts at or before the next one we need (overlap is fine). */
export function checkBatchSeqs(headSeq: number, batch: readonly Delivered[]): void {
  const next = headSeq + 1
  const first = batch[0]?.seq ?? next
  if (first > next) throw new PixpaxError('CHAIN_BROKEN', `relay skipped from seq ${next - 1} to ${first} (a receipt was omitted)`)
  batch.forEach((d, i) => {
    if (d.seq !== first + i) throw new PixpaxError('CHAIN_BROKEN', `relay sent seq ${d.seq} after ${first + i - 1} (omitted or reordered)`)
  })
}

/**
 * Starts every signature check of a batch at once — under the key its publicKeyId names, wherever we
 * saw that key — so a parallel verifier (worker threads, Web Workers) works on all of them while the
 * ordered rules run. Which key is *valid at that position* is still decided in order by the shared
 * rules; only the raw ECDSA results are computed ahead.
 */
export function verifyAhead(
  batch: readonly Delivered[],
  ledger: ClientLedger,
  verifier: SignatureVerifier,
  sha256: Sha256,
): Array<Early | undefined> {
  return batch.map((d) => {
    let receiptCheck: Early['receipt']
    let checked: CheckedReceipt | undefined
    try {
      checked = checkReceipt(d.receipt, sha256, NO_TEXT)
      const key = aheadKey(checked, ledger)
      if (key) receiptCheck = startVerification(verifier, key, checked.canonical, checked.signature)
    } catch {
      receiptCheck = undefined // the in-order check reports the error
    }
    return { checked, receipt: receiptCheck }
  })
}

/** The key a checked receipt's signature is checked under ahead of its turn: the one its publicKeyId names, wherever we saw it. */
function aheadKey(checked: CheckedReceipt, ledger: ClientLedger): PublicJwk | undefined {
  const { receipt } = checked
  if (receipt.type === 'IDENTITY_CREATED') return receipt.payload.publicKey as PublicJwk
  return ledger.rawIdentity(receipt.issuer.identityId)?.keys.get(receipt.issuer.publicKeyId)?.publicKey
}

/**
 * Completes a batch's ahead checks when it is about to be applied: receipts not checked ahead (a batch
 * released after waiting for its issuer's key) are checked now, and signature checks that could not
 * start when the batch arrived — its issuer's key was not in the ledger yet, as for a stream's first
 * batches while the identity stream adding the key is still being applied — start now under the key the
 * ledger holds by then. Without this those receipts were verified one at a time in order, each a round
 * trip to the verifier (about 1,500 sequential verifies at the start of a catch-up behind 4 batches of
 * read-ahead). Only raw ECDSA results are computed early: the ordered rules still decide the key's validity.
 * `from`: only receipts from that index on (earlier entries are returned as they are).
 */
export async function completeAhead(
  batch: readonly Delivered[],
  early: ReadonlyArray<Early | undefined>,
  ledger: ClientLedger,
  verifier: SignatureVerifier,
  sha256: Sha256,
  slicer: TimeSlicer,
  from = 0,
): Promise<Array<Early | undefined>> {
  const out = early.slice(0, batch.length)
  for (let i = from; i < batch.length; i++) {
    const e = out[i]
    if (e === undefined) {
      out[i] = verifyAhead([batch[i]!], ledger, verifier, sha256)[0]
      await slicer.pause()
    } else if (e.checked && !e.receipt) {
      const key = aheadKey(e.checked, ledger)
      if (key) out[i] = { checked: e.checked, receipt: startVerification(verifier, key, e.checked.canonical, e.checked.signature) }
    }
  }
  return out
}

/**
 * Whether a receipt checked ahead is still without its signature check although the ledger now holds the
 * key it names — the key arrived while the batch was applied (another stream's queue applied the identity
 * receipt adding it, or an earlier receipt of this batch did): then the rest of the batch can start too.
 */
export function keyArrived(early: Early | undefined, ledger: ClientLedger): boolean {
  return early?.checked !== undefined && early.receipt === undefined && aheadKey(early.checked, ledger) !== undefined
}

/**
 * `verifyAhead` in time slices: the receipts' checks (schema, JCS, SHA-256) are done between pauses of
 * `slicer`, so a large batch does not hold the main thread; each signature check still starts as soon
 * as its receipt is checked. The result is what `verifyAhead` returns.
 */
export async function verifyAheadSliced(
  batch: readonly Delivered[],
  ledger: ClientLedger,
  verifier: SignatureVerifier,
  sha256: Sha256,
  slicer: TimeSlicer,
): Promise<Array<Early | undefined>> {
  const early: Array<Early | undefined> = []
  for (const d of batch) {
    early.push(verifyAhead([d], ledger, verifier, sha256)[0])
    await slicer.pause()
  }
  return early
}

/**
 * Verifies one delivered receipt in order against the stream's logged head and the ledger, and applies
 * it to the ledger when it passes. A seq we already hold is `held` if it is the same receipt, else
 * refused (a replay or a rewrite).
 */
export async function verifyDelivered(ctx: DeliveryContext, streamKey: string, d: Delivered, early?: Early): Promise<DeliveryVerdict> {
  const { head, ledger } = ctx
  const expectedSeq = (head?.seq ?? 0) + 1
  if (d.seq < expectedSeq) {
    const mine = head && d.seq === head.seq ? head.receipt.hash : (await ctx.readLogged(streamKey, d.seq))?.receipt.hash
    const hash = (d.receipt as { hash?: unknown })?.hash
    if (mine !== undefined && mine === hash) return { kind: 'held' }
    return {
      kind: 'refused',
      code: 'CHAIN_CONFLICT',
      message: `relay delivered seq ${d.seq} again with different content (replay or rewrite)`,
    }
  }
  if (d.seq > expectedSeq)
    return {
      kind: 'refused',
      code: 'CHAIN_BROKEN',
      message: `relay skipped from seq ${expectedSeq - 1} to ${d.seq} (a receipt was omitted)`,
    }
  let checked: CheckedReceipt
  try {
    checked = early?.checked ?? checkReceipt(d.receipt, ctx.sha256, NO_TEXT)
    if (checked.streamKey !== streamKey)
      throw new PixpaxError('SCHEMA_INVALID', `receipt of ${checked.streamKey} delivered as ${streamKey}`)
    ledger.current = d.position
    const verifier = reusingVerifier(ctx.verifier, early?.receipt)
    const acceptance = await evaluateReceipt(checked, ledger, verifier, ctx.trust)
    if (acceptance.seq !== d.seq)
      throw new PixpaxError('CHAIN_BROKEN', `receipt is at seq ${acceptance.seq} of the local chain, relay says ${d.seq}`)
    ledger.apply(acceptance, d.position)
  } catch (error) {
    if (!(error instanceof PixpaxError)) throw error
    return { kind: 'refused', code: error.code, message: error.message }
  } finally {
    ledger.current = undefined
  }
  return { kind: 'verified', logged: { streamKey, seq: d.seq, receipt: checked.receipt, position: d.position } }
}

/** The relay's ack must name exactly this receipt at this position and verify under the bound key. */
export async function verifyAck(
  key: RelayPin | undefined,
  verifier: SignatureVerifier,
  ack: Ack,
  streamKey: string,
  seq: number,
  receipt: Receipt,
  position: number,
): Promise<void> {
  if (!key) throw new PixpaxError('KEY_UNKNOWN', 'no relay key pinned')
  if (
    ack.stream !== streamKey ||
    ack.seq !== seq ||
    ack.eventId !== receipt.eventId ||
    ack.hash !== receipt.hash ||
    ack.position !== position
  ) {
    throw new PixpaxError('SIGNATURE_INVALID', 'the ack does not name this receipt at this position')
  }
  if (ack.relayKeyId !== key.publicKeyId)
    throw new PixpaxError('KEY_UNKNOWN', `ack signed by ${ack.relayKeyId}, not the relay key ${key.publicKeyId}`)
  const { signature, ...body } = ack
  const sig = parseSignature(signature)
  const valid = await verifier.verify(key.publicKey, canonicalBytes(body), sig)
  if (!valid) throw new PixpaxError('SIGNATURE_INVALID', 'the ack signature does not verify under the relay key')
}
