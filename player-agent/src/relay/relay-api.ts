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
  /** The relay's MQTT bridge credentials for this device (only while paired, only when the relay has a bridge). */
  mqtt?: { url: string; username: string; password: string }
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

/**
 * The relay's public social read model as a PostDirectory (channels/relay-channel-source.ts): where a
 * post is and what a hashtag lists. Its answers only say where to look; content comes from verified streams.
 */
export class RelayDirectory {
  private readonly base: string
  constructor(
    relayUrl: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.base = relayUrl.replace(/\/$/, '')
  }

  private async get<T>(path: string): Promise<T | undefined> {
    const res = await this.fetchImpl(`${this.base}${path}`)
    if (res.status === 404) return undefined
    if (!res.ok) throw new RelayError(res.status, String(res.status), `GET ${path}: ${res.status}`)
    return (await res.json()) as T
  }

  async authorOf(postId: string): Promise<string | undefined> {
    const post = await this.get<{ author?: { identityId?: string } }>(`/v1/posts/${encodeURIComponent(postId)}`)
    return post?.author?.identityId
  }

  async hashtag(tag: string, limit: number): Promise<Array<{ postId: string; author: string }>> {
    const out: Array<{ postId: string; author: string }> = []
    let cursor: string | null = null
    while (out.length < limit) {
      const q: URLSearchParams = new URLSearchParams({ limit: String(Math.min(200, limit - out.length)), ...(cursor ? { cursor } : {}) })
      const page: { items: Array<{ postId: string; author: { identityId: string } }>; next: string | null } | undefined = await this.get(
        `/v1/feeds/hashtag/${encodeURIComponent(tag)}?${q}`,
      )
      if (!page) break
      out.push(...page.items.map((i) => ({ postId: i.postId, author: i.author.identityId })))
      cursor = page.next
      if (!cursor) break
    }
    return out
  }
}
