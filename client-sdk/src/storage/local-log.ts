/**
 * The local log: what a client (browser tab, player-agent) keeps on its own storage so that it works
 * offline and can resume sync — the receipts the relay confirmed, the outbox of receipts not yet
 * confirmed, and a quarantine of things received that did not verify (STYLE.md practice 1).
 *
 * Implementations: `MemoryLocalLog` (`@pixpax/client-sdk/testing`), `FileLocalLog` (`@pixpax/client-sdk/node`)
 * and `DexieLocalLog` (IndexedDB, `@pixpax/client-sdk`). Every one runs the same conformance suite,
 * `runLocalLogContract` (`src/testing/local-log-contract.ts`).
 */
import type { Ack, Receipt } from '@pixpax/shared'

/** The relay's signed acknowledgement (ARCHITECTURE §3), as the sync protocol defines it; stored as given. */
export type { Ack } from '@pixpax/shared'

/** A receipt the relay has confirmed (acked, or delivered to us and verified), at its position in its stream. */
export interface LoggedReceipt {
  /** The receipt's stream key, `{type}/{ids…}` (must equal `streamKey(receipt.stream)`). */
  streamKey: string
  /** The receipt's 1-based position in its stream. */
  seq: number
  receipt: Receipt
  /** The relay's acknowledgement, when we pushed this receipt ourselves. */
  ack?: Ack
  /**
   * The relay's acceptance order across all streams (from the sync protocol). Exports list receipts by
   * it, so an offline verifier places key revocations correctly.
   */
  position?: number
}

/**
 * Where an outbox entry is in its life: `queued` (signed, waiting to be pushed), `sent` (pushed, no
 * answer yet), `acked` (the relay accepted it; about to move to the confirmed log), `rejected` (the relay
 * refused it with `error`; kept for the user to see).
 */
export type OutboxState = 'queued' | 'sent' | 'acked' | 'rejected'

/** A receipt signed locally and not yet confirmed by the relay. */
export interface OutboxEntry {
  /** Unique within the outbox (typically the receipt's eventId). */
  id: string
  streamKey: string
  receipt: Receipt
  state: OutboxState
  /** How many times it was pushed. */
  attempts: number
  /** When (ms since the epoch) the next push may happen; backoff lives here. */
  nextAttemptAt: number
  /** When (ms since the epoch) it was queued; the outbox is listed in this order. */
  createdAt: number
  /** The relay's verified ack, once it accepted the receipt (kept with the receipt in the log as proof). */
  ack?: Ack
  /** The relay's error envelope for a `rejected` entry (or the last transient failure). */
  error?: { code: string; message: string; details?: Record<string, unknown> }
}

/** Something received that failed verification: kept verbatim for diagnosis, never applied. */
export interface QuarantineEntry {
  /** Unique within the quarantine; adding an entry with an existing id replaces it. */
  id: string
  streamKey?: string
  eventId?: string
  /** The text as received. */
  raw: string
  /** The PixPax error code it failed with (ARCHITECTURE §6). */
  code: string
  message: string
  /** When (ms since the epoch) it was quarantined. */
  at: number
}

/**
 * A client's durable local state. Calls may overlap; each implementation serializes its own writes.
 * Everything returned is a copy: mutating it never changes the log.
 */
export interface LocalLog {
  /**
   * Appends confirmed receipts atomically and durably (all or none): when the promise resolves they
   * survive a crash; when it rejects, nothing of the batch was written. Entries may belong to several
   * streams, in any interleaving; within a stream they must be consecutive. Each must be its stream's
   * next seq (head.seq + 1, or 1 for a new stream) and chain to the head (`prevEventId`/`prevHash` name
   * it; both null for seq 1) — otherwise it throws a `PixpaxError` (`CHAIN_BROKEN`, or `CHAIN_CONFLICT`
   * for a position that is already taken, with `details.head`; `SCHEMA_INVALID` for a `streamKey` that
   * is not the receipt's or an ack that names another receipt) and nothing is written. Signatures and
   * hashes are not checked here: append only what you verified. An empty batch does nothing.
   */
  append(entries: LoggedReceipt[]): Promise<void>
  /** The last confirmed receipt of a stream, or undefined if the stream has none. */
  head(streamKey: string): Promise<LoggedReceipt | undefined>
  /**
   * A stream's receipts with seq > afterSeq (default 0), in seq order, at most `limit` (default: all).
   * An unknown stream reads as empty.
   */
  read(streamKey: string, afterSeq?: number, limit?: number): Promise<LoggedReceipt[]>
  /** The keys of every stream with at least one receipt, ascending (UTF-16 code unit order). */
  streamKeys(): Promise<string[]>
  /**
   * Every confirmed receipt in local append order: the order of `append` calls, and within a call the
   * order of its entries (what an export writes). Receipts appended while a scan runs may or may not
   * be included; those confirmed before it started always are.
   */
  scan(): AsyncIterable<LoggedReceipt>
  /** Inserts an outbox entry, or replaces the one with the same id; durable when it resolves. */
  putOutbox(entry: OutboxEntry): Promise<void>
  /** Removes an outbox entry; removing one that is not there does nothing. Durable when it resolves. */
  deleteOutbox(id: string): Promise<void>
  /** Every outbox entry, by `createdAt`, then by `id`. */
  listOutbox(): Promise<OutboxEntry[]>
  /** Records a quarantined item, replacing one with the same id; durable when it resolves. */
  addQuarantine(entry: QuarantineEntry): Promise<void>
  /** Every quarantined item, by `at`, then by `id`. */
  listQuarantine(): Promise<QuarantineEntry[]>
  /**
   * One of the client's own small records (JSON values: the pinned relay key, the newest verified
   * checkpoint, evidence of a lying relay), or undefined when there is none.
   */
  getMeta(key: string): Promise<unknown>
  /** Stores a record under `key`, replacing the previous one; `undefined` removes it. Durable when it resolves. */
  putMeta(key: string, value: unknown): Promise<void>
  /**
   * Stores the acknowledgement the relay signed for a receipt already in the log (the relay usually
   * delivers our own receipt before it answers the push, so the receipt is logged before its ack is
   * known). `head`, `read` and `scan` return the receipt with it from then on; durable when it resolves.
   * The ack must name that receipt (`stream`, `seq`, `eventId`, `hash`) — else `SCHEMA_INVALID` — and
   * the receipt must be in the log (`NOT_FOUND`). A receipt that already has an ack keeps it: the same
   * ack again does nothing, another one is `SCHEMA_INVALID`.
   */
  setAck(streamKey: string, seq: number, ack: Ack): Promise<void>
  /**
   * The sync engine's stored start-up state (start-snapshot.ts), or undefined when there is none. Opaque
   * text to the log; it is a cache the engine checks against the log before using it.
   */
  getSnapshot(): Promise<string | undefined>
  /**
   * Replaces the stored start-up state (`undefined` removes it). Atomic: after a crash `getSnapshot`
   * returns the previous text or the new one, never a mix. Durable when it resolves.
   */
  putSnapshot(text: string | undefined): Promise<void>
  /** Waits for pending writes and releases the storage; any later call rejects. */
  close(): Promise<void>
}
