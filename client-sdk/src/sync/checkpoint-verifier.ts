/**
 * The client's side of the relay's acceptance log (ARCHITECTURE §4, docs/sync-protocol.md "Checkpoints"):
 * keeps the newest checkpoint it verified in the local log, and accepts a checkpoint the relay sends only
 * if it is signed by the bound relay key and is the one held, or a larger tree proven consistent with
 * it (RFC 9162). Anything else is LOG_INCONSISTENT — a forged note, a fork (two different trees of one
 * size, or a larger tree that does not extend the held one), a rollback (a smaller tree than held), a
 * missing proof — and when the relay signed both checkpoints, they are kept as evidence: two signed
 * statements that cannot both be true, which anyone can check offline.
 *
 * Calls must be made in the order the checkpoints arrived (the engine chains them).
 */
import {
  base64Decode,
  base64Encode,
  bytesEqual,
  PixpaxError,
  verifyConsistency,
  verifySignedCheckpoint,
  type Checkpoint,
  type LogCheckpointMessage,
  type Sha256,
  type SignatureVerifier,
} from '@pixpax/shared'
import type { LocalLog } from '../storage/local-log.js'
import type { RelayPin } from './relay-trust.js'

export const META_CHECKPOINT = 'relay/checkpoint'
export const META_EVIDENCE = 'relay/evidence'

/** The newest checkpoint the client verified, as stored. */
export interface HeldCheckpoint {
  /** The signed note, exactly as the relay sent it. */
  note: string
  origin: string
  size: number
  /** Root hash, standard base64. */
  root: string
  /** The relay key that signed it. */
  relayKeyId: string
}

/** Why a checkpoint was refused. */
export type InconsistencyReason = 'fork' | 'rollback' | 'inconsistent' | 'missing-proof' | 'bad-note'

/**
 * Evidence that the relay lied about its log: the checkpoint held and the one received (both verified
 * signed notes for `fork`, `rollback`, `inconsistent`), with the proof the relay gave, if any.
 */
export interface LogEvidence {
  reason: InconsistencyReason
  message: string
  relayKeyId: string
  held: string | undefined
  received: string
  consistency?: { from: number; hashes: string[] }
  at: number
}

export class CheckpointVerifier {
  private constructor(
    private readonly log: LocalLog,
    private readonly deps: { verifier: SignatureVerifier; sha256: Sha256; now: () => number },
    private current: HeldCheckpoint | undefined,
  ) {}

  static async load(log: LocalLog, deps: { verifier: SignatureVerifier; sha256: Sha256; now: () => number }): Promise<CheckpointVerifier> {
    return new CheckpointVerifier(log, deps, (await log.getMeta(META_CHECKPOINT)) as HeldCheckpoint | undefined)
  }

  /** The newest checkpoint verified (undefined before the first). */
  get held(): HeldCheckpoint | undefined {
    return this.current
  }

  /** Every piece of evidence stored, oldest first. */
  async evidence(): Promise<LogEvidence[]> {
    return ((await this.log.getMeta(META_EVIDENCE)) as LogEvidence[] | undefined) ?? []
  }

  /** Forgets the held checkpoint (after the app reset its trust in the relay); evidence stays. */
  async forget(): Promise<void> {
    this.current = undefined
    await this.log.putMeta(META_CHECKPOINT, undefined)
  }

  /**
   * Verifies a checkpoint the relay sent under its bound key and returns the tree it states; stores it
   * when it is newer than the held one (before resolving). Throws LOG_INCONSISTENT, with `details.reason`
   * and, when evidence was kept, `details.evidence`.
   */
  async accept(message: LogCheckpointMessage, key: RelayPin): Promise<Checkpoint> {
    const held = this.current?.relayKeyId === key.publicKeyId ? this.current : undefined
    if (held && message.note === held.note) return toCheckpoint(held)
    const origin = held?.origin ?? message.note.slice(0, Math.max(0, message.note.indexOf('\n')))
    let checkpoint: Checkpoint
    try {
      checkpoint = await verifySignedCheckpoint(message.note, { name: origin, publicKey: key.publicKey }, this.deps.verifier, {
        origin,
      })
    } catch (error) {
      if (!(error instanceof PixpaxError)) throw error
      throw new PixpaxError('LOG_INCONSISTENT', `the relay sent a checkpoint that does not verify: ${error.message}`, {
        reason: 'bad-note',
        note: (error.details as { reason?: string } | undefined)?.reason,
      })
    }
    if (!held) return this.hold(message.note, checkpoint, key)
    const heldRoot = base64Decode(held.root)!
    if (checkpoint.size === held.size) {
      if (bytesEqual(checkpoint.root, heldRoot)) return checkpoint // the same tree, another signature
      throw await this.refuse('fork', `two different trees of size ${held.size} signed by the relay`, held, message, key)
    }
    if (checkpoint.size < held.size) {
      throw await this.refuse('rollback', `the relay went back from size ${held.size} to ${checkpoint.size}`, held, message, key)
    }
    // Every tree extends the empty one (RFC 9162 §2.1.4 defines no proof from size 0), so the relay sends none.
    if (held.size === 0) return this.hold(message.note, checkpoint, key)
    const proof = message.consistency
    if (!proof || proof.from !== held.size) {
      throw new PixpaxError(
        'LOG_INCONSISTENT',
        `a checkpoint of size ${checkpoint.size} came without a consistency proof from ${held.size}`,
        {
          reason: 'missing-proof',
        },
      )
    }
    const hashes = proof.hashes.map((h) => base64Decode(h) ?? new Uint8Array(0)) // a non-hash fails verification
    if (!verifyConsistency(this.deps.sha256, held.size, checkpoint.size, hashes, heldRoot, checkpoint.root)) {
      throw await this.refuse(
        'inconsistent',
        `the tree of size ${checkpoint.size} does not extend the held one of size ${held.size} (a forked log)`,
        held,
        message,
        key,
      )
    }
    return this.hold(message.note, checkpoint, key)
  }

  /**
   * Checks a checkpoint that reached the client another way than from its relay — another client, a
   * witness, a monitor (gossip) — against the held one, without taking it as held: it must verify under
   * the bound key (else `bad-note`, no evidence: anyone can make up a note), and be the held tree (same
   * size, same root) or be proven consistent with it by `consistency(smaller, larger)` — the relay's RFC 9162
   * proof, undefined if it gives none. Otherwise it is a fork (`fork`, `inconsistent`), kept as evidence.
   */
  async compare(
    note: string,
    key: RelayPin,
    consistency: (from: number, to: number) => Promise<string[] | undefined>,
  ): Promise<Checkpoint> {
    const held = this.current?.relayKeyId === key.publicKeyId ? this.current : undefined
    const origin = held?.origin ?? note.slice(0, Math.max(0, note.indexOf('\n')))
    let checkpoint: Checkpoint
    try {
      checkpoint = await verifySignedCheckpoint(note, { name: origin, publicKey: key.publicKey }, this.deps.verifier, { origin })
    } catch (error) {
      if (!(error instanceof PixpaxError)) throw error
      throw new PixpaxError('LOG_INCONSISTENT', `the gossiped checkpoint does not verify: ${error.message}`, { reason: 'bad-note' })
    }
    if (!held || held.size === 0 || checkpoint.size === 0) return checkpoint
    const heldRoot = base64Decode(held.root)!
    if (checkpoint.size === held.size) {
      if (bytesEqual(checkpoint.root, heldRoot)) return checkpoint
      throw await this.refuse('fork', `two different trees of size ${held.size} signed by the relay`, held, { note }, key)
    }
    const [small, smallRoot, large, largeRoot] =
      checkpoint.size < held.size
        ? [checkpoint.size, checkpoint.root, held.size, heldRoot]
        : [held.size, heldRoot, checkpoint.size, checkpoint.root]
    const proof = await consistency(small, large)
    const hashes = proof?.map((h) => base64Decode(h) ?? new Uint8Array(0))
    if (!hashes || !verifyConsistency(this.deps.sha256, small, large, hashes, smallRoot, largeRoot)) {
      const received: LogCheckpointMessage = proof ? { note, consistency: { from: small, hashes: proof } } : { note }
      throw await this.refuse(
        'inconsistent',
        `the relay's trees of size ${small} and ${large} are not consistent (a forked log)`,
        held,
        received,
        key,
      )
    }
    return checkpoint
  }

  private async hold(note: string, checkpoint: Checkpoint, key: RelayPin): Promise<Checkpoint> {
    const held: HeldCheckpoint = {
      note,
      origin: checkpoint.origin,
      size: checkpoint.size,
      root: base64Encode(checkpoint.root),
      relayKeyId: key.publicKeyId,
    }
    await this.log.putMeta(META_CHECKPOINT, held)
    this.current = held
    return checkpoint
  }

  private async refuse(
    reason: InconsistencyReason,
    message: string,
    held: HeldCheckpoint,
    received: LogCheckpointMessage,
    key: RelayPin,
  ): Promise<PixpaxError> {
    const evidence: LogEvidence = {
      reason,
      message,
      relayKeyId: key.publicKeyId,
      held: held.note,
      received: received.note,
      ...(received.consistency ? { consistency: received.consistency } : {}),
      at: this.deps.now(),
    }
    await this.log.putMeta(META_EVIDENCE, [...(await this.evidence()), evidence])
    return new PixpaxError('LOG_INCONSISTENT', message, { reason, evidence })
  }
}

function toCheckpoint(held: HeldCheckpoint): Checkpoint {
  return { origin: held.origin, size: held.size, root: base64Decode(held.root)! }
}
