/**
 * The network adapter for the relay's automerge endpoint (`GET /v1/automerge`, docs/drafts.md): the
 * stock automerge-repo WebSocket client adapter, plus the relay's handshake — the first frame on every
 * (re)connected socket is the text frame `{"type":"auth","token":…}` with a session token (a browser
 * WebSocket cannot send an Authorization header; a token in the URL would land in access logs).
 *
 * The relay closes a socket whose token is missing, unknown or expired with 4001 before any document
 * data is exchanged. With a fixed token this adapter then stops reconnecting (it could never succeed)
 * and calls `onUnauthenticated`; with a token function it keeps retrying, asking the function each time,
 * so an app can hand out a fresh session token.
 */
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket'

export const AUTOMERGE_PATH = '/v1/automerge'
export const CLOSE_UNAUTHENTICATED = 4001
export const CLOSE_FORBIDDEN = 4003

/** A session token, or a function giving the current one (called on every connect). */
export type TokenSource = string | (() => string)

export interface RelayAdapterOptions {
  /** Reconnect delay; 0 disables reconnecting. Default 5000 ms. */
  retryMs?: number
  /** The relay refused the session (close 4001). */
  onUnauthenticated?: () => void
  /** Any close with a relay code (4000–4999), e.g. 4003 when access to an open draft was withdrawn. */
  onRelayClose?: (code: number, reason: string) => void
}

/** `http(s)://host[:port][/…]` or `ws(s)://…` → the relay's automerge WebSocket URL. */
export function automergeEndpoint(relayUrl: string): string {
  const url = new URL(relayUrl)
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:'
  url.pathname = url.pathname.replace(/\/+$/, '') + AUTOMERGE_PATH
  url.search = ''
  url.hash = ''
  return url.toString()
}

interface CloseLike {
  code?: number
  reason?: string
}

export class RelayWebSocketClientAdapter extends WebSocketClientAdapter {
  readonly #token: TokenSource
  readonly #options: RelayAdapterOptions
  /** Sockets that already sent their auth frame. */
  readonly #authenticated = new WeakSet<object>()

  constructor(relayUrl: string, token: TokenSource, options: RelayAdapterOptions = {}) {
    super(automergeEndpoint(relayUrl), options.retryMs ?? 5000)
    this.#token = token
    this.#options = options
    const baseOnClose = this.onClose
    // The socket listeners are attached in connect(), after this constructor: these replace the stock ones.
    this.onClose = (event?: CloseLike) => {
      const code = event?.code ?? 0
      if (code >= 4000 && code < 5000) this.#options.onRelayClose?.(code, event?.reason ?? '')
      if (code === CLOSE_UNAUTHENTICATED) {
        this.#options.onUnauthenticated?.()
        // A fixed token will not get better: stop retrying (the stock adapter retries while retryInterval > 0).
        if (typeof this.#token === 'string') (this as { retryInterval: number }).retryInterval = 0
      }
      baseOnClose()
    }
    // The stock handler rethrows Node socket errors (other than ECONNREFUSED) from inside the socket's
    // event listener, which crashes the process; a failed connection is simply retried.
    this.onError = () => undefined
  }

  /** Sends the auth frame first on a freshly opened socket, then the stock `join`. */
  override join(): void {
    const socket = this.socket
    if (socket && socket.readyState === socket.OPEN && !this.#authenticated.has(socket)) {
      this.#authenticated.add(socket)
      const token = typeof this.#token === 'function' ? this.#token() : this.#token
      socket.send(JSON.stringify({ type: 'auth', token }))
    }
    super.join()
  }
}
