/**
 * The SyncClient's parts on their own (unit, fake sockets): every cell of the outbox and session
 * transition tables walked through the modules that apply them, and the ack of our own receipt kept in
 * the local log when the relay delivers the receipt before it answers the push.
 */
import type { Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { OutboxEntry, OutboxState } from '../src/storage/local-log.js'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import {
  Connection,
  nextSessionState,
  SESSION_TRANSITIONS,
  type ConnectionHost,
  type SessionEvent,
  type SessionState,
  type WebSocketLike,
} from '../src/sync/connection.js'
import { OUTBOX_TRANSITIONS, type OutboxEvent } from '../src/sync/outbox-machine.js'
import { Outbox } from '../src/sync/outbox.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { buildChain, outboxEntry, testSigner, identityCreatedBy } from '../src/testing/fixtures.js'
import { FakeRelay } from './support/fake-relay.js'

type OutboxCell = OutboxState | 'removed' | undefined
/** What each cell must do, written out independently of the module (undefined: refused). */
const OUTBOX_EXPECTED: Record<OutboxState, Record<OutboxEvent, OutboxCell>> = {
  queued: {
    send: 'sent',
    acked: undefined,
    rejected: undefined,
    conflict: 'queued',
    retryable: 'queued',
    disconnect: 'queued',
    delivered: 'removed',
    restart: 'queued',
  },
  sent: {
    send: undefined,
    acked: 'acked',
    rejected: 'rejected',
    conflict: 'queued',
    retryable: 'queued',
    disconnect: 'queued',
    delivered: 'removed',
    restart: 'queued',
  },
  acked: {
    send: undefined,
    acked: 'acked',
    rejected: undefined,
    conflict: undefined,
    retryable: undefined,
    disconnect: 'acked',
    delivered: 'removed',
    restart: 'queued',
  },
  rejected: {
    send: undefined,
    acked: undefined,
    rejected: 'rejected',
    conflict: undefined,
    retryable: undefined,
    disconnect: 'rejected',
    delivered: 'removed',
    restart: 'rejected',
  },
}

const SESSION_EXPECTED: Record<SessionState, Record<SessionEvent, SessionState | undefined>> = {
  stopped: {
    start: 'connecting',
    'dial-failed': undefined,
    opened: undefined,
    bound: undefined,
    closed: undefined,
    retry: undefined,
    halt: 'stopped',
    reset: 'stopped',
    stop: 'stopped',
  },
  connecting: {
    start: undefined,
    'dial-failed': 'backoff',
    opened: 'handshake',
    bound: undefined,
    closed: 'backoff',
    retry: undefined,
    halt: 'halted',
    reset: undefined,
    stop: 'stopped',
  },
  handshake: {
    start: undefined,
    'dial-failed': undefined,
    opened: undefined,
    bound: 'bound',
    closed: 'backoff',
    retry: undefined,
    halt: 'halted',
    reset: undefined,
    stop: 'stopped',
  },
  bound: {
    start: undefined,
    'dial-failed': undefined,
    opened: undefined,
    bound: undefined,
    closed: 'backoff',
    retry: undefined,
    halt: 'halted',
    reset: undefined,
    stop: 'stopped',
  },
  backoff: {
    start: undefined,
    'dial-failed': undefined,
    opened: undefined,
    bound: undefined,
    closed: undefined,
    retry: 'connecting',
    halt: 'halted',
    reset: 'connecting',
    stop: 'stopped',
  },
  halted: {
    start: undefined,
    'dial-failed': undefined,
    opened: undefined,
    bound: undefined,
    closed: undefined,
    retry: undefined,
    halt: 'halted',
    reset: 'connecting',
    stop: 'stopped',
  },
}

const OUTBOX_STATES = Object.keys(OUTBOX_EXPECTED) as OutboxState[]
const OUTBOX_EVENTS = Object.keys(OUTBOX_EXPECTED.queued) as OutboxEvent[]
const SESSION_STATES = Object.keys(SESSION_EXPECTED) as SessionState[]
const SESSION_EVENTS = Object.keys(SESSION_EXPECTED.stopped) as SessionEvent[]

describe('outbox transition table, every cell through the Outbox', () => {
  let receipt: Receipt
  beforeEach(async () => {
    receipt ??= (await buildChain({ count: 1, bookId: 'outbox-cells' }))[0]!.receipt
  })

  it('has exactly the expected cells', () => {
    expect(OUTBOX_TRANSITIONS).toEqual(OUTBOX_EXPECTED)
  })

  for (const state of OUTBOX_STATES) {
    for (const event of OUTBOX_EVENTS) {
      const expected = OUTBOX_EXPECTED[state][event]
      it(`${state} × ${event} → ${expected ?? 'refused'}`, async () => {
        const log = new MemoryLocalLog()
        let removed = 0
        const outbox = new Outbox(
          log,
          () => 1_000,
          () => 0.5,
          () => removed++,
        )
        const entry: OutboxEntry = outboxEntry(receipt, { state, attempts: 2, nextAttemptAt: 10 })
        await outbox.add(entry)
        const before = structuredClone(await log.listOutbox())
        if (event === 'restart') await outbox.load()
        else await outbox.transition(entry, event)
        const stored = await log.listOutbox()
        if (expected === 'removed') {
          expect(stored).toEqual([])
          expect(outbox.entries).toEqual([])
          expect(removed).toBe(1)
        } else if (expected === undefined) {
          expect(stored).toEqual(before) // refused: nothing changed, nothing written
          expect(outbox.entries[0]!.state).toBe(state)
        } else {
          const now = event === 'restart' ? stored[0]! : entry
          expect(now.state).toBe(expected)
          expect(stored[0]!.state).toBe(expected)
          expect(stored[0]!.attempts).toBe(event === 'send' ? 3 : 2)
          // backoff after a retryable failure: attempt 2 at base 500 ms, jitter 0.5 → 750 ms from now
          expect(stored[0]!.nextAttemptAt).toBe(event === 'retryable' ? 1_750 : 10)
          expect(removed).toBe(0)
        }
      })
    }
  }
})

/** A socket the test opens and closes by hand. */
class HandSocket implements WebSocketLike {
  readyState = 0
  closed = false
  readonly sent: string[] = []
  private readonly listeners = new Map<string, Array<(event: { data?: unknown }) => void>>()
  addEventListener(type: string, listener: (event: { data?: unknown }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener])
  }
  send(data: string): void {
    this.sent.push(data)
  }
  close(): void {
    this.closed = true
    this.readyState = 3
  }
  emit(type: 'open' | 'close' | 'message', data?: string): void {
    if (type === 'open') this.readyState = 1
    if (type === 'close') this.readyState = 3
    for (const l of this.listeners.get(type) ?? []) l({ data })
  }
}

describe('session transition table, every cell through the Connection', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('has exactly the expected cells', () => {
    expect(SESSION_TRANSITIONS).toEqual(SESSION_EXPECTED)
    for (const state of SESSION_STATES)
      for (const event of SESSION_EVENTS) expect(nextSessionState(state, event)).toBe(SESSION_EXPECTED[state][event])
  })

  /** A connection with a hand-driven socket factory, and what its host was told. */
  function harness() {
    const sockets: HandSocket[] = []
    const calls: string[] = []
    let halted = false
    let failDial = false
    const host: ConnectionHost = {
      relayUrl: 'http://relay.test',
      webSocket: (url) => {
        calls.push(`dial ${url}`)
        if (failDial) throw new Error('no network')
        const socket = new HandSocket()
        sockets.push(socket)
        return socket
      },
      random: () => 0.5,
      reconnect: { baseMs: 100, maxMs: 1000 },
      isHalted: () => halted,
      onConnecting: () => calls.push('connecting'),
      onHaltedAtStart: () => calls.push('halted-at-start'),
      onOpen: () => calls.push('open'),
      onMessage: (text) => calls.push(`message ${text}`),
      onDisconnect: () => calls.push('disconnect'),
    }
    const conn = new Connection(host)
    return {
      conn,
      sockets,
      calls,
      last: () => sockets.at(-1),
      setHalted: (value: boolean) => (halted = value),
      setFailDial: (value: boolean) => (failDial = value),
    }
  }

  type Harness = ReturnType<typeof harness>
  /** Brings a fresh connection into `state` by real events only. */
  function driveTo(state: SessionState): Harness {
    const h = harness()
    if (state === 'stopped') return h
    h.conn.start()
    if (state === 'handshake' || state === 'bound') h.last()!.emit('open')
    if (state === 'bound') h.conn.bound()
    if (state === 'backoff') h.last()!.emit('close')
    if (state === 'halted') {
      h.setHalted(true)
      h.conn.halt('KEY_UNKNOWN')
    }
    expect(h.conn.state).toBe(state)
    return h
  }

  /** Makes `event` happen to the connection the way it happens for real. */
  function apply(h: Harness, event: SessionEvent): void {
    switch (event) {
      case 'start':
        return h.conn.start()
      case 'stop':
        return h.conn.stop()
      case 'bound':
        return h.conn.bound()
      case 'halt':
        h.setHalted(true)
        return h.conn.halt('LOG_INCONSISTENT')
      case 'reset':
        h.setHalted(false)
        return h.conn.reset()
      case 'opened':
        return h.last()?.emit('open') // on a stale socket where there is no current one: must be ignored
      case 'closed':
        return h.last()?.emit('close')
      case 'retry':
        return void vi.advanceTimersByTime(10_000) // the backoff timer, where one is pending
      case 'dial-failed':
        // Only a dial can fail: in `connecting` that is a retry whose dial throws (below); elsewhere nothing dials.
        return
    }
  }

  for (const state of SESSION_STATES) {
    for (const event of SESSION_EVENTS) {
      const expected = SESSION_EXPECTED[state][event]
      it(`${state} × ${event} → ${expected ?? 'refused'}`, () => {
        if (event === 'dial-failed' && state === 'connecting') {
          // Reach `connecting` by a retry whose dial throws: the table sends it to backoff, which retries.
          const h = driveTo('backoff')
          h.setFailDial(true)
          vi.advanceTimersByTime(10_000)
          expect(h.conn.state).toBe('backoff')
          h.setFailDial(false)
          vi.advanceTimersByTime(10_000)
          expect(h.conn.state).toBe('connecting')
          return
        }
        const h = driveTo(state)
        const dials = h.sockets.length
        apply(h, event)
        expect(h.conn.state).toBe(expected ?? state)
        if (expected === 'connecting') expect(h.sockets.length).toBe(dials + 1) // it dialled
        if (expected === undefined && event !== 'closed') expect(h.sockets.length).toBe(dials) // refused: no new socket
        if (expected === 'halted' || expected === 'stopped') expect(h.sockets.every((s) => s.closed || s.readyState === 3)).toBe(true)
      })
    }
  }

  it('says hello only on the current socket, backs off with growing delays, and never dials while halted', () => {
    const h = harness()
    h.conn.start()
    h.last()!.emit('open')
    expect(h.calls).toEqual(['connecting', 'dial ws://relay.test/v1/sync', 'open'])
    h.last()!.emit('message', '{"type":"pong"}')
    h.last()!.emit('close')
    expect(h.conn.state).toBe('backoff')
    expect(h.calls.slice(3)).toEqual(['message {"type":"pong"}', 'disconnect'])
    vi.advanceTimersByTime(74) // attempt 1: 100 ms with jitter 0.5 → 75 ms
    expect(h.sockets).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(h.sockets).toHaveLength(2)
    const stale = h.sockets[0]!
    stale.emit('message', 'late')
    expect(h.calls).not.toContain('message late')
    h.last()!.emit('close')
    vi.advanceTimersByTime(149) // attempt 2: 200 ms → 150 ms
    expect(h.sockets).toHaveLength(2)
    vi.advanceTimersByTime(1)
    expect(h.sockets).toHaveLength(3)
    h.setHalted(true)
    h.conn.halt('KEY_UNKNOWN')
    vi.advanceTimersByTime(60_000)
    expect(h.sockets).toHaveLength(3)
    h.conn.stop()
    h.conn.start()
    expect(h.conn.state).toBe('halted')
    expect(h.calls.at(-1)).toBe('halted-at-start')
    expect(h.sockets).toHaveLength(3)
  })
})

describe('the ack of our own receipt, delivered before the push answer', () => {
  it('is stored with the logged receipt (LocalLog.setAck) and survives a reopen', async () => {
    const relay = new FakeRelay()
    relay.deliverBeforeAnswer = true
    const signer = await testSigner()
    const identity = await identityCreatedBy(signer)
    relay.add([identity])
    const log = new MemoryLocalLog()
    const options = {
      relayUrl: 'http://fake',
      log,
      identityId: 'alice',
      signer,
      webSocket: relay.webSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      reconnect: { baseMs: 10, maxMs: 50 },
    }
    const client = await SyncClient.open(options)
    client.start()
    await client.whenSynced()
    const book = 'pixbook/acc-1/acked'
    const acked = new Promise<void>((resolve) => client.on('acked', () => resolve()))
    const delivered = new Promise<void>((resolve) => client.on('receipt', (r) => r.streamKey === book && resolve()))
    await client.append(book, 'PIXBOOK_CREATED', { title: 'Acked' })
    await Promise.all([acked, delivered])
    await client.whenSynced()
    await client.stop()
    const [logged] = await log.read(book)
    expect(logged!.ack).toBeDefined()
    expect(logged!.ack).toMatchObject({ stream: book, seq: 1, position: logged!.position, relayKeyId: relay.key.publicKeyId })
    expect(client.head(book)?.ack).toEqual(logged!.ack)
    const reopened = await SyncClient.open({ ...options, log: new MemoryLocalLog(log.data) })
    expect(reopened.head(book)?.ack).toEqual(logged!.ack)
    expect(reopened.pending()).toEqual([])
  })
})
