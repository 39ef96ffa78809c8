import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dropSchemas, startTestRelay, uniqueSchema, type TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { startWebRelay, WEB_DIST } from './support/web-relay.js'

const envelope = async (res: Response) => (await res.json()) as { error: { code: string; message: string; requestId: string } }

describe('the relay serves the web app on its own origin', () => {
  let relay: TestRelay
  beforeAll(async () => {
    relay = await startWebRelay('webserve')
  }, 120_000)
  afterAll(async () => relay?.close())

  it('answers / and every app page with index.html, revalidated on each visit', async () => {
    for (const path of ['/', '/editor', '/identity', '/welcome', '/some/deep/page?x=1']) {
      const res = await fetch(relay.url + path)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/)
      expect(res.headers.get('cache-control'), path).toBe('no-cache')
      expect(await res.text()).toContain('<div id="app"></div>')
    }
  })

  it('serves hashed assets immutable for a year, and the service worker and manifest no-cache', async () => {
    const assets = readdirSync(join(WEB_DIST, 'assets')).filter((f) => f.endsWith('.js'))
    expect(assets.length).toBeGreaterThan(1)
    const asset = await fetch(`${relay.url}/assets/${assets[0]}`)
    expect(asset.status).toBe(200)
    expect(asset.headers.get('content-type')).toMatch(/javascript/)
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    for (const path of ['/sw.js', '/manifest.webmanifest']) {
      const res = await fetch(relay.url + path)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('cache-control'), path).toBe('no-cache')
    }
    const manifest = (await (await fetch(`${relay.url}/manifest.webmanifest`)).json()) as {
      start_url: string
      display: string
      icons: unknown[]
    }
    expect(manifest).toMatchObject({ start_url: '/', display: 'standalone' })
    expect(manifest.icons.length).toBeGreaterThan(0)
  })

  it('keeps the API envelope for API paths and missing files (never the shell)', async () => {
    for (const path of ['/v1/nope', '/assets/missing-123.js', '/favicon.ico']) {
      const res = await fetch(relay.url + path)
      expect(res.status, path).toBe(404)
      expect((await envelope(res)).error.code, path).toBe('NOT_FOUND')
    }
    const post = await fetch(`${relay.url}/editor`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(post.status).toBe(404)
    expect((await fetch(`${relay.url}/v1/relay`)).status).toBe(200)
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200)
  })
})

describe('without a web build', () => {
  it('the relay still starts and serves the API; / is a 404 envelope', async () => {
    const prefix = 'webnone'
    const relay = await startTestRelay({ db: 'pg', store: 'fs', schema: uniqueSchema(prefix) })
    try {
      const root = await fetch(`${relay.url}/`)
      expect(root.status).toBe(404)
      expect((await envelope(root)).error.code).toBe('NOT_FOUND')
      expect((await fetch(`${relay.url}/v1/relay`)).status).toBe(200)
    } finally {
      await relay.close()
      await dropSchemas(prefix)
    }
  }, 120_000)
})
