/**
 * Simulated players for `pnpm bench player`: each one a device identity (a P-256 key from createECDH —
 * one cheap scalar multiplication each, not a burst of generateKeyPairSync), paired through the real
 * routes, holding one sync WebSocket (hello with its session, subscribed to its remote-command stream)
 * and pushing a DEVICE_STATUS over it on every tick. What they measure: push → push-result time, and
 * command delivery (the owner's DEVICE_COMMAND posted → the device's socket receives it).
 */
import { createECDH } from 'node:crypto'
import {
  buildReceipt,
  deviceStreamKey,
  remoteStreamKey,
  type ChainHead,
  type PrivateJwk,
  type Receipt,
  type Signer,
  type StreamRef,
} from '../shared/src/index.js'
import { nodeSha256, nodeSigner } from '../shared/src/node/index.js'
import { login } from '../client-sdk/src/network/session.js'
import WebSocket from 'ws'

const b64url = (bytes: Buffer): string => bytes.toString('base64url')
const pad32 = (bytes: Buffer): Buffer => (bytes.length === 32 ? bytes : Buffer.concat([Buffer.alloc(32 - bytes.length), bytes]))

/** A fresh P-256 private JWK from createECDH (the public point comes with it, no second pass). */
export function ecdhKey(): PrivateJwk {
  const ecdh = createECDH('prime256v1')
  const pub = ecdh.generateKeys() // uncompressed: 0x04 ‖ x ‖ y
  return {
    kty: 'EC',
    crv: 'P-256',
    x: b64url(pub.subarray(1, 33)),
    y: b64url(pub.subarray(33, 65)),
    d: b64url(pad32(ecdh.getPrivateKey())),
  }
}

export interface Who {
  identityId: string
  accountId: string
  signer: Signer
}

/** Runs `fn` over `items`, `n` at a time. */
export async function inPool<T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        await fn(items[i]!, i)
      }
    }),
  )
}

export async function api<T = Record<string, unknown>>(url: string, path: string, init: RequestInit & { token?: string } = {}): Promise<T> {
  const headers: Record<string, string> = { ...(init.body ? { 'content-type': 'application/json' } : {}) }
  if (init.token) headers.authorization = `Bearer ${init.token}`
  const res = await fetch(`${url}${path}`, { ...init, headers })
  const text = await res.text()
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path} ${res.status}: ${text.slice(0, 300)}`)
  return (text ? JSON.parse(text) : {}) as T
}

export async function postReceipts(url: string, receipts: Receipt[]): Promise<void> {
  const out = await api<{ results: Array<{ ok: boolean; error?: unknown }> }>(url, '/v1/receipts', {
    method: 'POST',
    body: JSON.stringify({ receipts }),
  })
  const bad = out.results.find((r) => !r.ok)
  if (bad) throw new Error(`receipt refused: ${JSON.stringify(bad.error)}`)
}

/** A writer of one stream: builds receipts chained to the last one it built. */
export class Chain {
  head: ChainHead | null = null
  constructor(
    readonly stream: StreamRef,
    readonly by: Who,
  ) {}
  async next(type: string, payload: Record<string, unknown>): Promise<Receipt> {
    const r = await buildReceipt({
      stream: this.stream,
      type,
      payload,
      identityId: this.by.identityId,
      signer: this.by.signer,
      prev: this.head,
      sha256: nodeSha256,
    })
    this.head = { eventId: r.eventId, hash: r.hash }
    return r
  }
}

export const capabilities = {
  display: 'png',
  maxWidth: 64,
  maxHeight: 64,
  animation: true,
  brightness: false,
  rotation: false,
  mirror: false,
}

export class SimPlayer {
  readonly who: Who
  readonly own: Chain
  token = ''
  owner: Who | undefined
  private ws: WebSocket | undefined
  private pushes = new Map<string, number>()
  private nextId = 0
  /** eventId of a command → when the owner posted it; resolved on arrival. */
  readonly awaited = new Map<string, (at: number) => void>()
  readonly pushLatencies: number[] = []
  pushFailures = 0
  private ticks = 0

  constructor(index: number, runId: string) {
    const jwk = ecdhKey()
    this.who = { identityId: `benchdev-${runId}-${index}`, accountId: `devacct-${runId}-${index}`, signer: nodeSigner(jwk) }
    this.own = new Chain({ type: 'device', identityId: this.who.identityId }, this.who)
  }

  identityCreated(): Promise<Receipt> {
    return buildReceipt({
      stream: { type: 'identity', identityId: this.who.identityId },
      type: 'IDENTITY_CREATED',
      payload: { publicKey: this.who.signer.publicKey, accountId: this.who.accountId, kind: 'device' },
      identityId: this.who.identityId,
      signer: this.who.signer,
      prev: null,
      sha256: nodeSha256,
    })
  }

  async login(url: string): Promise<void> {
    this.token = (await login(url, this.who.identityId, this.who.signer)).token
  }

  get remoteKey(): string {
    return remoteStreamKey(this.owner!.accountId, this.who.identityId)
  }

  /** Opens the sync socket, subscribes to its remote stream; resolves once caught up. */
  async connect(url: string): Promise<void> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/sync`)
    this.ws = ws
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject))
    const caughtUp = new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer) => {
        const now = performance.now()
        const m = JSON.parse(String(data)) as {
          type: string
          stream?: string
          id?: string
          receipts?: Array<{ receipt: { eventId: string } }>
          results?: Array<{ ok: boolean; error?: { code: string } }>
        }
        if (m.type === 'caught-up') resolve()
        else if (m.type === 'receipts' && m.stream === this.remoteKey) {
          for (const d of m.receipts!) this.awaited.get(d.receipt.eventId)?.(now)
        } else if (m.type === 'push-result' && m.id) {
          const sent = this.pushes.get(m.id)
          this.pushes.delete(m.id)
          if (sent !== undefined) this.pushLatencies.push(now - sent)
          if (!m.results?.every((r) => r.ok)) this.pushFailures++
        }
      })
    })
    ws.send(JSON.stringify({ type: 'hello', v: 1, token: this.token }))
    ws.send(JSON.stringify({ type: 'subscribe', streams: [{ key: this.remoteKey, after: null }] }))
    await caughtUp
  }

  /** One heartbeat over the socket (as the player's outbox pushes it). */
  async heartbeat(): Promise<void> {
    this.ticks++
    const r = await this.own.next('DEVICE_STATUS', {
      state: 'playing',
      capabilities,
      artwork: 'sha256:' + (this.ticks % 251).toString(16).padStart(64, '0'),
      playlistSize: 50,
      cacheBytes: 1_000_000,
      cachedItems: 50,
      online: true,
      uptimeSeconds: this.ticks,
    })
    const id = `p${this.nextId++}`
    this.pushes.set(id, performance.now())
    this.ws!.send(JSON.stringify({ type: 'push', id, receipts: [r] }))
  }

  get unanswered(): number {
    return this.pushes.size
  }

  close(): void {
    this.ws?.close()
  }
}

export const deviceKey = (p: SimPlayer): string => deviceStreamKey(p.who.identityId)
