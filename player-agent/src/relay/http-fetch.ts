/**
 * The player's HTTP client: the part of `fetch` it uses, over `node:http` / `node:https`. Node's own
 * `fetch` (undici) costs ≈ 20 MB resident once it has made a request — its JavaScript, compiled on first
 * use, and its llhttp WebAssembly parser — on a device whose budget is 80 MB (docs/player.md, "Memory").
 * `node:http` is loaded anyway (the sync WebSocket runs on it).
 *
 * What it does: string or URL input; `method`, `headers` (a record, pairs or a Headers), `body` (string
 * or bytes), `signal`; redirects followed as fetch does (303, and 301/302 after a POST, become a GET);
 * no body decoding (it sends no Accept-Encoding, so the relay sends none). The answer has `status`,
 * `statusText`, `ok`, `url`, `redirected`, `headers.get/has`, `text()`, `json()`, `arrayBuffer()` and a
 * `body` that is an async iterable of bytes with `cancel()`. Anything else a caller might ask of a
 * Response is absent: the player's callers (and the client-sdk paths it reaches) use only these, and the
 * tests in http-fetch.test.ts pin them.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'

/** A socket idle this long fails the request (undici's headers and body timeouts are 300 s too). */
const IDLE_TIMEOUT_MS = 300_000
const MAX_REDIRECTS = 20

type HeadersInput = Record<string, string> | Array<[string, string]> | { forEach(fn: (value: string, key: string) => void): void }

function headerRecord(input: HeadersInput | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (!input) return out
  if (Array.isArray(input)) for (const [k, v] of input) out[k.toLowerCase()] = v
  else if (typeof (input as { forEach?: unknown }).forEach === 'function')
    (input as { forEach(fn: (value: string, key: string) => void): void }).forEach((v, k) => (out[k.toLowerCase()] = v))
  else for (const [k, v] of Object.entries(input as Record<string, string>)) out[k.toLowerCase()] = v
  return out
}

function bodyBytes(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string') return Buffer.from(body)
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  throw new TypeError('httpFetch: the body must be a string or bytes')
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError')
}

/** The answer: a Response in the parts the player reads. */
class HttpResponse {
  readonly ok: boolean
  readonly status: number
  readonly statusText: string
  readonly headers: { get(name: string): string | null; has(name: string): boolean }
  readonly body: (AsyncIterable<Uint8Array> & { cancel(): Promise<void> }) | null
  private used = false

  constructor(
    private readonly message: IncomingMessage,
    readonly url: string,
    readonly redirected: boolean,
    hasBody: boolean,
  ) {
    this.status = message.statusCode ?? 0
    this.statusText = message.statusMessage ?? ''
    this.ok = this.status >= 200 && this.status <= 299
    const raw = message.headers
    this.headers = {
      get: (name) => {
        const v = raw[name.toLowerCase()]
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v
      },
      has: (name) => raw[name.toLowerCase()] !== undefined,
    }
    if (!hasBody) message.resume()
    this.body = hasBody
      ? {
          [Symbol.asyncIterator]: () => this.take()[Symbol.asyncIterator](),
          cancel: async () => {
            this.used = true
            message.destroy()
          },
        }
      : null
  }

  private take(): IncomingMessage {
    if (this.used) throw new TypeError('httpFetch: the body was already read')
    this.used = true
    return this.message
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    if (!this.body) {
      if (this.used) throw new TypeError('httpFetch: the body was already read')
      this.used = true
      return new ArrayBuffer(0)
    }
    const chunks: Buffer[] = []
    for await (const chunk of this.take()) chunks.push(chunk as Buffer)
    const all = Buffer.concat(chunks)
    return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(await this.arrayBuffer())
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text())
  }
}

function once(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  signal: AbortSignal | undefined,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal))
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return reject(new TypeError(`httpFetch: unsupported URL ${url.href}`))
    const req = send(url, { method, headers: body ? { ...headers, 'content-length': String(body.length) } : headers })
    const onAbort = () => req.destroy(abortError(signal!))
    signal?.addEventListener('abort', onAbort, { once: true })
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`httpFetch: no data from ${url.origin} for ${IDLE_TIMEOUT_MS / 1000} s`)))
    req.once('error', (error) => {
      signal?.removeEventListener('abort', onAbort)
      reject(new TypeError('fetch failed', { cause: error }))
    })
    req.once('response', (res) => {
      // The abort also ends a body being read; removed once the body is done.
      res.once('close', () => signal?.removeEventListener('abort', onAbort))
      resolve(res)
    })
    req.end(body)
  })
}

/** `fetch` for the player: same call, same answer for the parts above, through node:http. */
export const httpFetch = (async (input: string | URL, init: RequestInit = {}) => {
  let url = new URL(String(input))
  let method = (init.method ?? 'GET').toUpperCase()
  let headers = headerRecord(init.headers)
  let body = bodyBytes(init.body)
  const signal = init.signal ?? undefined
  for (let redirects = 0; ; redirects++) {
    const res = await once(url, method, headers, body, signal)
    const status = res.statusCode ?? 0
    const location = res.headers.location
    if ([301, 302, 303, 307, 308].includes(status) && location && init.redirect !== 'manual') {
      res.resume()
      if (init.redirect === 'error' || redirects >= MAX_REDIRECTS)
        throw new TypeError('fetch failed', { cause: new Error(`redirect from ${url.href}`) })
      const next = new URL(location, url)
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        if (method !== 'HEAD') method = 'GET'
        body = undefined
        delete headers['content-type']
      }
      // fetch drops credentials when a redirect leaves the origin.
      if (next.origin !== url.origin) delete headers.authorization
      headers = { ...headers }
      url = next
      continue
    }
    const hasBody = method !== 'HEAD' && status !== 204 && status !== 304
    return new HttpResponse(res, url.href, redirects > 0, hasBody) as unknown as Response
  }
}) as typeof fetch
