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

/** Commands verified here but not yet in the log, kept only until the engine logs them. */
const MAX_AHEAD = 100

export class TransportedCommandCheck {
  private ahead: Receipt[] = []

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
    const held = await log.read(remoteKey)
    if (receipt.type !== 'DEVICE_COMMAND' || streamKey !== remoteKey)
      return refuse('NOT_AUTHORIZED', `a ${receipt.type} not in ${remoteKey}`)
    const logged = held.find((l) => l.receipt.eventId === receipt.eventId)
    if (logged) {
      return logged.receipt.hash === receipt.hash
        ? { kind: 'verified', receipt: logged.receipt }
        : refuse('CHAIN_CONFLICT', `event ${receipt.eventId} is another receipt in the verified log`)
    }
    this.ahead = this.ahead.filter((r) => !held.some((l) => l.receipt.eventId === r.eventId))
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

    // Replays what the engine verified, in the relay's acceptance order, then the command on top.
    const chain = new ChainVerifier({ verifier: this.options.verifier, sha256: this.options.sha256 })
    const issuers = new Set([
      receipt.issuer.identityId,
      ...held.map((l) => l.receipt.issuer.identityId),
      ...this.ahead.map((r) => r.issuer.identityId),
    ])
    const context: LoggedReceipt[] = [...held]
    for (const id of issuers) context.push(...(await log.read(`identity/${id}`)))
    context.sort((a, b) => (a.position ?? 0) - (b.position ?? 0))
    for (const l of context) await chain.add(l.receipt)
    for (const r of this.ahead) await chain.add(r)
    const verdict = await chain.add(text)
    if (verdict.ok) {
      this.ahead.push(receipt)
      if (this.ahead.length > MAX_AHEAD) this.ahead.shift()
      return { kind: 'verified', receipt }
    }
    // A command whose predecessor is neither logged nor verified here is ahead of the log, not forged.
    const known = [...held.map((l) => l.receipt), ...this.ahead]
    const prev = receipt.prevEventId
    if (verdict.code.startsWith('CHAIN_') && prev && !known.some((r) => r.eventId === prev))
      return { kind: 'deferred', eventId: receipt.eventId, code: verdict.code, message: verdict.message }
    return refuse(verdict.code, verdict.message)
  }
}

function eventIdOf(text: string): string {
  return /"eventId"\s*:\s*"([0-9A-Za-z]{1,64})"/.exec(text)?.[1] ?? 'unknown'
}
