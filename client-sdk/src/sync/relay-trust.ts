/**
 * What a client trusts about its relay, kept in the local log (meta records) so it survives restarts:
 * the relay key it pinned (ARCHITECTURE §3 key binding) and whether it stopped trusting the relay (a
 * halt: the relay's key changed, or its log forked). A halt is never lifted silently — only the app can
 * (`SyncClient.resetRelayTrust`), after a person looked at the evidence.
 *
 * Binding: an announced key is accepted only if its RFC 7638 thumbprint equals the pinned id. The id is
 * pinned explicitly (`relayPublicKeyId`) or on first use (TOFU), stored before anything signed by that key
 * is accepted, and surfaced to the app (`SyncClient.relayPin`, the `relay-pinned` event).
 */
import { jwkThumbprint, PixpaxError, PublicJwkSchema, type PublicJwk } from '@pixpax/shared'
import type { LocalLog } from '../storage/local-log.js'

/** How a relay key came to be trusted. */
export type PinSource = 'explicit' | 'tofu'

/** The relay key the client trusts. */
export interface RelayPin {
  /** RFC 7638 thumbprint of `publicKey`. */
  publicKeyId: string
  publicKey: PublicJwk
  how: PinSource
  /** When (ms since the epoch) it was pinned. */
  pinnedAt: number
}

/** Why the client stopped talking to its relay. */
export interface RelayHalt {
  code: 'KEY_UNKNOWN' | 'LOG_INCONSISTENT'
  message: string
  at: number
}

export const META_RELAY_PIN = 'relay/pin'
export const META_RELAY_HALT = 'relay/halt'

export class RelayTrust {
  private constructor(
    private readonly log: LocalLog,
    private readonly explicitId: string | undefined,
    private readonly now: () => number,
    private current: RelayPin | undefined,
    private stopped: RelayHalt | undefined,
  ) {}

  /** Reads the stored pin and halt. An explicit id that differs from a stored TOFU pin replaces it. */
  static async load(log: LocalLog, options: { relayPublicKeyId?: string; now?: () => number } = {}): Promise<RelayTrust> {
    let pin = (await log.getMeta(META_RELAY_PIN)) as RelayPin | undefined
    if (options.relayPublicKeyId !== undefined && pin?.publicKeyId !== options.relayPublicKeyId) pin = undefined
    const halt = (await log.getMeta(META_RELAY_HALT)) as RelayHalt | undefined
    return new RelayTrust(log, options.relayPublicKeyId, options.now ?? Date.now, pin, halt)
  }

  /** The pinned relay key, once known. */
  get pin(): RelayPin | undefined {
    return this.current
  }

  /** Set once the relay lost the client's trust; persisted. */
  get halt(): RelayHalt | undefined {
    return this.stopped
  }

  /** The id announced keys must hash to: the explicit one, else the stored TOFU pin. */
  get pinnedId(): string | undefined {
    return this.explicitId ?? this.current?.publicKeyId
  }

  /**
   * Accepts the key a relay announced (at `welcome`) if it is bound to the pinned id — its thumbprint is
   * that id, and the id it announces is that id too. With nothing pinned yet the key is pinned (TOFU) and
   * stored before this resolves; `pinned` is then true. Throws KEY_UNKNOWN otherwise.
   */
  async bind(announced: { publicKeyId: string; publicKey: unknown }): Promise<{ pin: RelayPin; pinned: boolean }> {
    const parsed = PublicJwkSchema.safeParse(announced.publicKey)
    if (!parsed.success) throw new PixpaxError('KEY_UNKNOWN', 'the relay announced a key that is not a P-256 public JWK')
    const publicKey: PublicJwk = { kty: 'EC', crv: 'P-256', x: parsed.data.x, y: parsed.data.y }
    const thumbprint = jwkThumbprint(publicKey)
    if (thumbprint !== announced.publicKeyId) {
      throw new PixpaxError(
        'KEY_UNKNOWN',
        `the relay announced key id ${announced.publicKeyId} with a key whose thumbprint is ${thumbprint}`,
        { announced: announced.publicKeyId, thumbprint },
      )
    }
    const expected = this.pinnedId
    if (expected !== undefined && thumbprint !== expected) {
      throw new PixpaxError('KEY_UNKNOWN', `the relay's key changed: it announced ${thumbprint}, the pinned key is ${expected}`, {
        announced: thumbprint,
        pinned: expected,
      })
    }
    if (this.current?.publicKeyId === thumbprint) return { pin: this.current, pinned: false }
    const pin: RelayPin = { publicKeyId: thumbprint, publicKey, how: this.explicitId ? 'explicit' : 'tofu', pinnedAt: this.now() }
    await this.log.putMeta(META_RELAY_PIN, pin)
    this.current = pin
    return { pin, pinned: true }
  }

  /** Stops trusting the relay until the app resets; durable when it resolves. The first reason is kept. */
  async stop(code: RelayHalt['code'], message: string): Promise<RelayHalt> {
    if (this.stopped) return this.stopped
    const halt: RelayHalt = { code, message, at: this.now() }
    this.stopped = halt
    await this.log.putMeta(META_RELAY_HALT, halt)
    return halt
  }

  /** Forgets the halt and the TOFU pin (an explicit id stays what the app configured). */
  async reset(): Promise<void> {
    this.stopped = undefined
    this.current = undefined
    await this.log.putMeta(META_RELAY_HALT, undefined)
    await this.log.putMeta(META_RELAY_PIN, undefined)
  }
}
