/**
 * A client's witness requirement (docs/log.md §11): with a policy of k of n witnesses, receipts are applied
 * only under a checkpoint covered by one that k of them cosigned. Every checkpoint the client accepts is
 * proven consistent with the one before (checkpoint-verifier.ts), so they all lie on one chain: a verified
 * checkpoint no larger than a witnessed one is a prefix of it, seen by those witnesses too. The witnessed
 * size is kept in the local log, so a restart does not forget it.
 *
 * Without a policy everything is covered, and the client behaves as before.
 */
import { checkWitnessed, type SignatureVerifier, type VerifiedCosignature, type WitnessPolicy } from '@pixpax/shared'
import type { LocalLog } from '../storage/local-log.js'

export const META_WITNESSED = 'relay/witnessed'

/** The newest checkpoint that met the witness policy, as stored. */
export interface WitnessedCheckpoint {
  size: number
  /** The note with its cosignatures, as the relay served it: evidence of who saw this tree. */
  note: string
  cosignatures: VerifiedCosignature[]
  relayKeyId: string
}

export class WitnessGate {
  private constructor(
    private readonly log: LocalLog,
    private readonly policy: WitnessPolicy | undefined,
    private readonly verifier: SignatureVerifier,
    private current: WitnessedCheckpoint | undefined,
  ) {}

  static async load(log: LocalLog, policy: WitnessPolicy | undefined, verifier: SignatureVerifier): Promise<WitnessGate> {
    if (policy && (!Number.isInteger(policy.required) || policy.required < 1 || policy.required > policy.witnesses.length))
      throw new RangeError(`a witness policy needs 1 ≤ required ≤ ${policy.witnesses.length} (got ${policy.required})`)
    const stored = policy ? ((await log.getMeta(META_WITNESSED)) as WitnessedCheckpoint | undefined) : undefined
    return new WitnessGate(log, policy, verifier, stored)
  }

  get required(): boolean {
    return this.policy !== undefined
  }

  /** The newest checkpoint the policy's witnesses cosigned (undefined without a policy or before the first). */
  get witnessed(): WitnessedCheckpoint | undefined {
    return this.current
  }

  /** Whether receipts proven in a checkpoint of `size`, signed by `relayKeyId`, may be applied. */
  covers(size: number, relayKeyId: string): boolean {
    if (!this.policy) return true
    return this.current !== undefined && this.current.relayKeyId === relayKeyId && size <= this.current.size
  }

  /**
   * Looks at a checkpoint note the client has just accepted (verified under the relay key and consistent
   * with what it holds): if enough witnesses cosigned it and it is larger than the witnessed one, it
   * becomes the witnessed one (stored before this resolves) and this returns true. A cosignature line by
   * a listed witness that does not verify throws LOG_INCONSISTENT (`bad-cosignature`).
   */
  async observe(note: string, size: number, relayKeyId: string): Promise<boolean> {
    if (!this.policy) return false
    if (this.current && this.current.relayKeyId === relayKeyId && size <= this.current.size) return false
    let cosignatures: VerifiedCosignature[]
    try {
      cosignatures = await checkWitnessed(note, this.policy, this.verifier)
    } catch (error) {
      if ((error as { details?: { reason?: string } }).details?.reason === 'not-witnessed') return false
      throw error
    }
    const witnessed: WitnessedCheckpoint = { size, note, cosignatures, relayKeyId }
    await this.log.putMeta(META_WITNESSED, witnessed)
    this.current = witnessed
    return true
  }

  /** Forgets the witnessed checkpoint (the app reset its trust in the relay). */
  async forget(): Promise<void> {
    this.current = undefined
    await this.log.putMeta(META_WITNESSED, undefined)
  }
}
