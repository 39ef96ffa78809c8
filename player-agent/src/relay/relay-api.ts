/**
 * The player's HTTP calls to the relay's devices routes (docs/player.md), with the session the device
 * opens by signing a challenge (client-sdk `login`). A 401 drops the session so the next call opens a
 * new one.
 */
import { login } from '@pixpax/client-sdk'
import type { Signer } from '@pixpax/shared'

export class RelayError extends Error {
  override name = 'RelayError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export interface SelfStatus {
  deviceIdentityId: string
  paired: boolean
  accountId?: string
  ownerIdentityId?: string
  name?: string
  pairedAt?: string
}

export class RelayApi {
  private session: { token: string; expiresAt: number } | undefined
  private readonly base: string

  constructor(
    relayUrl: string,
    private readonly identityId: string,
    private readonly signer: Signer,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.base = relayUrl.replace(/\/$/, '')
  }

  /** A live session token, opening one if needed (throws when the relay is unreachable or refuses). */
  async token(): Promise<string> {
    if (this.session && this.session.expiresAt - Date.now() > 60_000) return this.session.token
    const opened = await login(this.base, this.identityId, this.signer, this.fetchImpl)
    this.session = { token: opened.token, expiresAt: Date.parse(opened.expiresAt) }
    return opened.token
  }

  /** The current token without opening a session (for the sync engine's hello). */
  currentToken(): string | undefined {
    return this.session?.token
  }

  private async call<T>(method: string, path: string): Promise<T> {
    const token = await this.token()
    const res = await this.fetchImpl(`${this.base}${path}`, { method, headers: { authorization: `Bearer ${token}` } })
    const text = await res.text()
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : {}
    if (!res.ok) {
      if (res.status === 401) this.session = undefined
      const error = body.error as { code?: string; message?: string } | undefined
      throw new RelayError(
        res.status,
        error?.code ?? String(res.status),
        `${method} ${path}: ${error?.code ?? res.status} ${error?.message ?? ''}`,
      )
    }
    return body as T
  }

  newPairingCode(): Promise<{ code: string; expiresAt: string }> {
    return this.call('POST', '/v1/devices/pairing-code')
  }

  self(): Promise<SelfStatus> {
    return this.call('GET', '/v1/devices/self')
  }
}
