/**
 * LocalLog in memory: no durability at all. For tests (it is the reference the other implementations
 * are held to by the same contract suite) and for sessions that must leave nothing behind.
 */
import { checkAppend, checkSetAck, closedError, normalizeEntry, outboxOrder, quarantineOrder, readWindow } from './append-check.js'
import type { Ack, LocalLog, LoggedReceipt, OutboxEntry, QuarantineEntry } from './local-log.js'

/**
 * The state behind a MemoryLocalLog. Hand the same one to a new MemoryLocalLog to "reopen" the log
 * (what a test of persistence needs); by default each log has its own.
 */
export class MemoryLocalLogData {
  /** Per stream, its receipts; index seq − 1. */
  readonly streams = new Map<string, LoggedReceipt[]>()
  /** Every receipt in append order. */
  readonly all: LoggedReceipt[] = []
  readonly outbox = new Map<string, OutboxEntry>()
  readonly quarantine = new Map<string, QuarantineEntry>()
  readonly meta = new Map<string, unknown>()
  /** The sync engine's start-up snapshot (`putSnapshot`). */
  snapshot: string | undefined
}

/** An in-memory LocalLog. Values are structured-cloned on the way in and out, like a real store. */
export class MemoryLocalLog implements LocalLog {
  readonly #data: MemoryLocalLogData
  #closed = false

  /** @param data the state to use; pass another log's `data` to simulate reopening it. */
  constructor(data: MemoryLocalLogData = new MemoryLocalLogData()) {
    this.#data = data
  }

  /** The state this log works on (share it with a new MemoryLocalLog to reopen). */
  get data(): MemoryLocalLogData {
    return this.#data
  }

  #open(): void {
    if (this.#closed) throw closedError('MemoryLocalLog')
  }

  async append(entries: LoggedReceipt[]): Promise<void> {
    this.#open()
    checkAppend(entries, (key) => this.#data.streams.get(key)?.at(-1))
    const copies = entries.map((entry) => structuredClone(normalizeEntry(entry)))
    for (const entry of copies) {
      let stream = this.#data.streams.get(entry.streamKey)
      if (!stream) this.#data.streams.set(entry.streamKey, (stream = []))
      stream.push(entry)
      this.#data.all.push(entry)
    }
  }

  async head(streamKey: string): Promise<LoggedReceipt | undefined> {
    this.#open()
    const head = this.#data.streams.get(streamKey)?.at(-1)
    return head && structuredClone(head)
  }

  async read(streamKey: string, afterSeq?: number, limit?: number): Promise<LoggedReceipt[]> {
    this.#open()
    const stream = this.#data.streams.get(streamKey) ?? []
    const [from, to] = readWindow(stream.length, afterSeq, limit)
    return structuredClone(stream.slice(from, to))
  }

  async streamKeys(): Promise<string[]> {
    this.#open()
    return [...this.#data.streams.keys()].sort()
  }

  async *scan(): AsyncIterable<LoggedReceipt> {
    this.#open()
    const end = this.#data.all.length
    for (let i = 0; i < end; i++) {
      this.#open()
      yield structuredClone(this.#data.all[i]!)
    }
  }

  async putOutbox(entry: OutboxEntry): Promise<void> {
    this.#open()
    this.#data.outbox.set(entry.id, structuredClone(entry))
  }

  async deleteOutbox(id: string): Promise<void> {
    this.#open()
    this.#data.outbox.delete(id)
  }

  async listOutbox(): Promise<OutboxEntry[]> {
    this.#open()
    return structuredClone([...this.#data.outbox.values()].sort(outboxOrder))
  }

  async addQuarantine(entry: QuarantineEntry): Promise<void> {
    this.#open()
    this.#data.quarantine.set(entry.id, structuredClone(entry))
  }

  async listQuarantine(): Promise<QuarantineEntry[]> {
    this.#open()
    return structuredClone([...this.#data.quarantine.values()].sort(quarantineOrder))
  }

  async getMeta(key: string): Promise<unknown> {
    this.#open()
    return structuredClone(this.#data.meta.get(key))
  }

  async putMeta(key: string, value: unknown): Promise<void> {
    this.#open()
    if (value === undefined) this.#data.meta.delete(key)
    else this.#data.meta.set(key, structuredClone(value))
  }

  async setAck(streamKey: string, seq: number, ack: Ack): Promise<void> {
    this.#open()
    const logged = Number.isSafeInteger(seq) && seq >= 1 ? this.#data.streams.get(streamKey)?.[seq - 1] : undefined
    // `all` holds the same objects as `streams`, so scan sees the ack too.
    if (checkSetAck(streamKey, seq, logged, ack)) logged!.ack = structuredClone(ack)
  }

  async getSnapshot(): Promise<string | undefined> {
    this.#open()
    return this.#data.snapshot
  }

  async putSnapshot(text: string | undefined): Promise<void> {
    this.#open()
    this.#data.snapshot = text
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}
