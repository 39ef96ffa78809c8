/**
 * httpFetch (the player's fetch over node:http) against node's own fetch, case by case on one local
 * server: the same answers for the parts the player reads (status, headers, text/json/arrayBuffer, the
 * streamed body and its cancel), the same redirect rules, aborts and connection failures.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpFetch } from '../src/relay/http-fetch.js'

let server: Server
let other: Server
let base: string
let otherBase: string
const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = []

async function body(req: IncomingMessage): Promise<string> {
  let s = ''
  for await (const chunk of req) s += String(chunk)
  return s
}

beforeAll(async () => {
  other = createServer((req, res) => {
    void body(req).then((text) => {
      seen.push({ method: req.method!, url: `other${req.url}`, headers: req.headers, body: text })
      res.end('other')
    })
  })
  server = createServer((req, res) => void answer(req, res))
  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await body(req)
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: text })
    const url = new URL(req.url!, 'http://x')
    switch (url.pathname) {
      case '/json':
        res.setHeader('content-type', 'application/json')
        res.setHeader('X-Custom', 'Yes')
        res.end(JSON.stringify({ method: req.method, body: text, type: req.headers['content-type'] ?? null }))
        return
      case '/missing':
        res.statusCode = 404
        res.statusMessage = 'Not Found'
        res.end('no such thing')
        return
      case '/bytes':
        res.setHeader('content-length', '300000')
        for (let i = 0; i < 3; i++) res.write(Buffer.alloc(100_000, i + 1))
        res.end()
        return
      case '/empty':
        res.statusCode = 204
        res.end()
        return
      case '/see-other':
        res.statusCode = 303
        res.setHeader('location', '/json')
        res.end()
        return
      case '/temporary':
        res.statusCode = 307
        res.setHeader('location', '/json')
        res.end()
        return
      case '/away':
        res.statusCode = 302
        res.setHeader('location', `${otherBase}/landed`)
        res.end()
        return
      case '/slow':
        res.write('x')
        return // never ends: the client aborts
      case '/loop':
        res.statusCode = 302
        res.setHeader('location', '/loop')
        res.end()
        return
    }
    res.statusCode = 500
    res.end()
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  other.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await new Promise((resolve) => other.close(resolve))
})

describe.each([
  ['node fetch', fetch],
  ['httpFetch', httpFetch],
])('%s', (_name, f) => {
  it('GET: status, headers (any case), json', async () => {
    const res = await f(`${base}/json`)
    expect([res.status, res.ok, res.url]).toEqual([200, true, `${base}/json`])
    expect(res.headers.get('x-custom')).toBe('Yes')
    expect(res.headers.get('X-CUSTOM')).toBe('Yes')
    expect(res.headers.get('x-absent')).toBeNull()
    expect(await res.json()).toEqual({ method: 'GET', body: '', type: null })
  })

  it('POST with a string body and headers (a record)', async () => {
    const res = await f(new URL(`${base}/json`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', Authorization: 'Bearer t' },
      body: '{"a":1}',
    })
    expect(await res.json()).toEqual({ method: 'POST', body: '{"a":1}', type: 'application/json' })
    expect(seen.at(-1)!.headers.authorization).toBe('Bearer t')
  })

  it('bytes as the body', async () => {
    const res = await f(`${base}/json`, { method: 'POST', body: new Uint8Array([104, 105]) })
    expect(((await res.json()) as { body: string }).body).toBe('hi')
  })

  it('a refusal: status, statusText, text', async () => {
    const res = await f(`${base}/missing`)
    expect([res.status, res.ok, res.statusText]).toEqual([404, false, 'Not Found'])
    expect(await res.text()).toBe('no such thing')
  })

  it('the body as a stream of bytes, content-length; arrayBuffer', async () => {
    const res = await f(`${base}/bytes`)
    expect(res.headers.get('content-length')).toBe('300000')
    let total = 0
    const firsts = new Set<number>()
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.length
      firsts.add(chunk[0]!)
    }
    expect(total).toBe(300_000)
    expect(firsts.has(1)).toBe(true)
    const again = await f(`${base}/bytes`)
    const bytes = new Uint8Array(await again.arrayBuffer())
    expect([bytes.length, bytes[0], bytes[299_999]]).toEqual([300_000, 1, 3])
  })

  it('a body cancelled unread; a body read twice throws', async () => {
    const res = await f(`${base}/bytes`)
    await res.body!.cancel()
    const next = await f(`${base}/json`)
    await next.text()
    await expect(next.text()).rejects.toThrow(TypeError)
  })

  it('204: no body, empty text', async () => {
    const res = await f(`${base}/empty`)
    expect(res.status).toBe(204)
    expect(res.body).toBeNull()
    expect(await res.text()).toBe('')
  })

  it('303 after a POST: a GET without the body; 307 keeps method and body', async () => {
    const res = await f(`${base}/see-other`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })
    expect([res.redirected, res.url]).toEqual([true, `${base}/json`])
    expect(await res.json()).toEqual({ method: 'GET', body: '', type: null })
    const kept = await f(`${base}/temporary`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'y' })
    expect(await kept.json()).toEqual({ method: 'POST', body: 'y', type: 'text/plain' })
  })

  it('a redirect to another origin drops the authorization header', async () => {
    const res = await f(`${base}/away`, { headers: { authorization: 'Bearer secret' } })
    expect(await res.text()).toBe('other')
    const landed = seen.at(-1)!
    expect(landed.url).toBe('other/landed')
    expect(landed.headers.authorization).toBeUndefined()
  })

  it('too many redirects, an abort, a refused connection: rejected', async () => {
    await expect(f(`${base}/loop`)).rejects.toThrow(TypeError)
    const controller = new AbortController()
    const res = await f(`${base}/slow`, { signal: controller.signal })
    const reading = res.text()
    controller.abort()
    await expect(reading).rejects.toThrow()
    await expect(f(`${base}/json`, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    await expect(f(`http://127.0.0.1:${port}/`)).rejects.toThrow('fetch failed')
  })
})
