/**
 * Every route the relay documents (GET /v1/openapi.json), sent malformed input — broken or hostile JSON,
 * the wrong content type, shapes no route expects, absurd query parameters, path segments that try to
 * escape — with and without a valid session: the answer is never a 5xx and every 4xx is the error
 * envelope (docs/errors.md), so a client always learns what was wrong. A route added later is covered
 * by being documented.
 */
import { identityCreated, newIdentity } from '@pixpax/shared/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestRelay, type TestRelay } from '../src/testing.js'
import { openSession, postReceipts } from './support/relay-harness.js'

const BODIES: Array<[contentType: string | undefined, body: string | undefined]> = [
  ['application/json', '{'],
  ['application/json', '[]'],
  ['application/json', 'null'],
  ['application/json', '{"a":1,"a":2}'],
  ['application/json', '"\\ud800"'],
  ['application/json', JSON.stringify({ receipts: [{}] })],
  [
    'application/json',
    JSON.stringify({ receipts: 'x', token: 5, payload: { title: 1 }, codes: [1], identityId: 'root', nonce: 'y', signature: 'z' }),
  ],
  ['application/json', '{"count":1e400,"limit":9007199254740993,"after":-1}'],
  ['application/json', '['.repeat(5000) + ']'.repeat(5000)],
  ['application/json', '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}'],
  ['application/json', JSON.stringify({ a: 'x'.repeat(3_000_000) })],
  ['text/plain', 'hello'],
  [undefined, undefined],
]
const QUERIES = ['', '?limit=-1&after=%00&stream=..%2F..%2F&size=abc&index=-5&from=99999999999999999999&to=x&q=%ff']

interface Finding {
  request: string
  status: number
  body: string
}

async function probe(relay: TestRelay, token: string, segment: string): Promise<Finding[]> {
  const doc = (await (await fetch(`${relay.url}/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> }
  expect(Object.keys(doc.paths).length).toBeGreaterThan(40)
  const findings: Finding[] = []
  for (const [template, operations] of Object.entries(doc.paths)) {
    const path = template.replace(/\{[^}]+\}/g, (name) => (name.includes('hex') ? 'zz' : segment))
    for (const method of Object.keys(operations).map((m) => m.toUpperCase())) {
      const bodies = method === 'GET' || method === 'DELETE' ? [[undefined, undefined] as const] : BODIES
      for (const [contentType, body] of bodies) {
        for (const query of QUERIES) {
          const res = await fetch(`${relay.url}${path}${query}`, {
            method,
            headers: { authorization: `Bearer ${token}`, ...(contentType ? { 'content-type': contentType } : {}) },
            ...(body !== undefined ? { body } : {}),
          })
          const text = await res.text()
          let envelope = false
          try {
            const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; requestId?: unknown } }
            envelope = typeof error?.code === 'string' && typeof error.message === 'string' && typeof error.requestId === 'string'
          } catch {
            envelope = false
          }
          if (res.status >= 500 || (res.status >= 400 && !envelope)) {
            findings.push({
              request: `${method} ${path}${query} ${contentType ?? '-'} ${(body ?? '').slice(0, 40)}`,
              status: res.status,
              body: text.slice(0, 200),
            })
          }
        }
      }
    }
  }
  return findings
}

describe('every documented route, sent garbage', () => {
  let relay: TestRelay
  let token: string

  beforeAll(async () => {
    relay = await startTestRelay({ env: { ADMIN_IDENTITIES: 'root' } })
    const root = newIdentity('acc-root', 'person', 'root')
    expect((await postReceipts(relay.url, [await identityCreated(root)])).status).toBe(200)
    token = await openSession(relay.url, root)
  })
  afterAll(async () => {
    await relay?.close()
  })

  it('answers without a session with 4xx envelopes, never 5xx; path segments that try to escape included', async () => {
    expect(await probe(relay, 'not-a-session', '..%2F..%2Fetc')).toEqual([])
  }, 120_000)

  it('answers an admin session the same way, where the handlers read the bodies', async () => {
    expect(await probe(relay, token, 'root')).toEqual([])
  }, 120_000)
})
