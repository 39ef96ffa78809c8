/**
 * Verification of a DEVICE_COMMAND that came by another transport than the sync WebSocket (MQTT): the
 * broker and the relay's publisher are trusted for nothing, so the receipt is checked by the shared
 * receipt rules (`ChainVerifier`, the same `evaluateReceipt` the sync engine applies): its hash, its
 * issuer's signature under a key valid in the issuer's verified identity stream, the stream's authority
 * (opened inside the account) and the chain — its `prev` must be the head of the command stream the
 * engine verified (or a command verified here before it). The remote inbox then checks, as for every
 * command, that the issuer is an identity of the paired account.
 *
 * What this cannot check, unlike the WebSocket path, is the relay's inclusion proof: a command here is
 * proven signed by the owner's account, not proven in the relay's log. The log still gets it from the
 * engine, which is what the answer (DEVICE_COMMAND_ACK) refers to.
 */
import type { LocalLog, LoggedReceipt } from '@pixpax/client-sdk'
import { ChainVerifier, parseReceipt, PixpaxError, type Receipt, type Sha256, type SignatureVerifier } from '@pixpax/shared'

export type CommandCheck =
  /** Verified (or already in the verified log, byte for byte): may be obeyed. */
  | { kind: 'verified'; receipt: Receipt }
  /** Cannot be decided yet (its predecessor or its issuer's identity has not reached the log): the engine will deliver it. */
  | { kind: 'deferred'; eventId: string; code: string; message: string }
  /** Refused for good: not a receipt, not for this device, or failed a rule. Never obeyed, never answered. */
  | { kind: 'refused'; eventId: string; code: string; message: string }

export interface CommandCheckOptions {
  log: LocalLog
  verifier: SignatureVerifier
  sha256: Sha256
  /** Asks the engine to fetch an issuer's identity stream that is not held yet. */
  follow(streamKey: string): void
}

/** Commands verified here but not yet in the log (their issuers' identities are kept up to date), at most. */
const MAX_AHEAD = 100

/** The rules' state after the engine's verified receipts (and MQTT-verified ones) of one command stream. */
interface Replay {
  remoteKey: string
  chain: ChainVerifier
  /** Per stream, the last seq of the log fed in. */
  fedSeq: Map<string, number>
  /** Every receipt fed in: eventId → hash. */
  fed: Map<string, string>
  /** Receipts fed in that came by MQTT, not (yet) from the log. */
  viaTransport: number
}

export class TransportedCommandCheck {
  private ahead: Receipt[] = []
  private replay: Replay | undefined

  constructor(private readonly options: CommandCheckOptions) {}

  async check(text: string, remoteKey: string): Promise<CommandCheck> {
    let receipt: Receipt
    let streamKey: string
    try {
      ;({ receipt, streamKey } = parseReceipt(text, this.options.sha256))
    } catch (error) {
      if (!(error instanceof PixpaxError)) throw error
      return { kind: 'refused', eventId: eventIdOf(text), code: error.code, message: error.message }
    }
    const refuse = (code: string, message: string): CommandCheck => ({ kind: 'refused', eventId: receipt.eventId, code, message })
    const { log } = this.options
    if (receipt.type !== 'DEVICE_COMMAND' || streamKey !== remoteKey)
      return refuse('NOT_AUTHORIZED', `a ${receipt.type} not in ${remoteKey}`)
    const issuerStream = `identity/${receipt.issuer.identityId}`
    if ((await log.read(issuerStream, 0, 1)).length === 0) {
      this.options.follow(issuerStream)
      return {
        kind: 'deferred',
        eventId: receipt.eventId,
        code: 'KEY_UNKNOWN',
        message: `identity ${receipt.issuer.identityId} not held yet`,
      }
    }

    let replay = await this.caughtUp(remoteKey, receipt.issuer.identityId)
    const seen = replay.fed.get(receipt.eventId)
    if (seen !== undefined) {
      return seen === receipt.hash
        ? { kind: 'verified', receipt }
        : refuse('CHAIN_CONFLICT', `event ${receipt.eventId} is another receipt in the verified stream`)
    }
    let verdict = await replay.chain.add(text)
    if (!verdict.ok && replay.viaTransport > 0) {
      // Commands taken from MQTT alone may have led the replay off the relay's chain: judge on the log alone.
      this.ahead = []
      this.replay = undefined
      replay = await this.caughtUp(remoteKey, receipt.issuer.identityId)
      verdict = await replay.chain.add(text)
    }
    if (verdict.ok) {
      replay.fed.set(receipt.eventId, receipt.hash)
      replay.viaTransport++
      this.ahead.push(receipt)
      if (this.ahead.length > MAX_AHEAD) this.ahead.shift()
      return { kind: 'verified', receipt }
    }
    // A command whose predecessor is neither logged nor verified here is ahead of the log, not forged.
    const prev = receipt.prevEventId
    if (verdict.code.startsWith('CHAIN_') && prev && !replay.fed.has(prev))
      return { kind: 'deferred', eventId: receipt.eventId, code: verdict.code, message: verdict.message }
    return refuse(verdict.code, verdict.message)
  }

  /**
   * Brings the replay up to the log: the command stream's new receipts and those of its issuers' identity
   * streams, in the relay's acceptance order (commands verified here from MQTT are in it already and are
   * skipped when the log brings them). Only what is new since the last check is verified again, so a
   * check costs the same however long the stream is.
   */
  private async caughtUp(remoteKey: string, issuer: string, again = true): Promise<Replay> {
    const { log, verifier, sha256 } = this.options
    let replay = this.replay
    if (!replay || replay.remoteKey !== remoteKey) {
      again = false // already from scratch
      replay = { remoteKey, chain: new ChainVerifier({ verifier, sha256 }), fedSeq: new Map(), fed: new Map(), viaTransport: 0 }
      this.replay = replay
      this.ahead = []
    }
    const fresh: LoggedReceipt[] = []
    const read = async (key: string) => {
      const got = await log.read(key, replay.fedSeq.get(key) ?? 0)
      if (got.length) replay.fedSeq.set(key, got[got.length - 1]!.seq)
      fresh.push(...got)
    }
    await read(remoteKey)
    const issuers = new Set([issuer, ...fresh.map((l) => l.receipt.issuer.identityId), ...this.ahead.map((r) => r.issuer.identityId)])
    for (const id of issuers) await read(`identity/${id}`)
    fresh.sort((a, b) => (a.position ?? 0) - (b.position ?? 0))
    for (const { receipt } of fresh) {
      const fed = replay.fed.get(receipt.eventId)
      if (fed === receipt.hash) {
        replay.viaTransport = Math.max(0, replay.viaTransport - 1) // an MQTT-verified command reached the log
        continue
      }
      if (fed !== undefined || !(await replay.chain.add(receipt)).ok) {
        // The log disagrees with what MQTT brought: start over from the log alone (once; a receipt the
        // rules refuse even then stays out, and commands chained on it are deferred to the engine).
        if (again) {
          this.replay = undefined
          this.ahead = []
          return this.caughtUp(remoteKey, issuer, false)
        }
        continue
      }
      replay.fed.set(receipt.eventId, receipt.hash)
    }
    this.ahead = this.ahead.filter((r) => !fresh.some((l) => l.receipt.eventId === r.eventId))
    return replay
  }
}

function eventIdOf(text: string): string {
  return /"eventId"\s*:\s*"([0-9A-Za-z]{1,64})"/.exec(text)?.[1] ?? 'unknown'
}
