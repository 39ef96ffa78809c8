/**
 * LocalLog on the local disk (Node: the player-agent, tools). Three files in one directory:
 *
 * - `receipts.ndjson` — confirmed receipts, append-only, one `LoggedReceipt` JSON per line in append
 *   order (so the file itself is the scan order). An `append` of n > 1 entries writes a header line
 *   `{"batch":n}` first, then its n lines, all with one write and one fdatasync: after a crash a batch
 *   with fewer than n lines is incomplete and is cut off whole, which keeps `append` all-or-nothing.
 * - `outbox.jsonl` — a journal of `{"put":OutboxEntry}` / `{"delete":id}` lines, replayed into a Map on
 *   open and rewritten (temp file + rename) when it holds more than `outboxCompactLines` lines and at
 *   least 4 per live entry, on open and as it grows.
 * - `quarantine.ndjson` — one QuarantineEntry per line (a later line with the same id wins).
 * - `meta.json` — the client's own small records (`putMeta`), one JSON object, replaced whole on every
 *   put (temp file, fsync, rename): a crash leaves the old or the new object, never a torn one.
 * - `acks.ndjson` — `{"streamKey","seq","ack"}` lines (`setAck`): acks learned after their receipt was
 *   logged. Replayed into a map on open and merged into what `head`, `read` and `scan` return.
 * - `snapshot.json` — the sync engine's start-up snapshot (`putSnapshot`), replaced whole like meta.json.
 * - `index.json` — a stored copy of the in-memory index below, so that open need not parse every receipt
 *   line (JSON.parse is most of an open: ~0.9 s for 100k receipts). It names the byte length of
 *   receipts.ndjson it covers and the SHA-256 of the last line in that length; open uses it only if the
 *   file still has that line ending exactly there, then replays just the lines after it (appended since,
 *   or a torn tail). A shorter file (truncated), another last line (rewritten), an index that does not
 *   parse: the whole file is replayed as if there were none. Written (temp, fsync, rename) on close and
 *   when the unindexed tail grows past max(4096 lines, the indexed count / 2), so its cost stays a
 *   constant share of appends and a crash costs at most that tail's replay.
 *
 * On open each file is replayed: a torn tail — a last line without its newline, unparseable bytes, an
 * unfinished batch — is truncated, keeping everything before it; damage followed by valid lines is not a
 * torn write but corruption, and open throws LocalLogCorruptError rather than silently drop receipts.
 *
 * Memory: the receipts are not kept in memory. The index holds, per stream, the byte offset and length
 * of each receipt's line (two numbers per receipt: ~1.6 MB for 100k) and the parsed head, so `read` is a
 * few positioned reads of adjacent lines, never a rescan. Open replays the file once (it checks every
 * line's chain position, so a damaged file is noticed then, not later), or only the lines after the
 * stored index. What the index cannot see is an edit of an earlier line that keeps the file's length and
 * its last line — the chain checks a full replay runs would; hashes and signatures are checked by
 * neither (`pixpax verify` on an export does that).
 *
 * One process per directory: the index lives in this process, so a second writer would corrupt it.
 */
import { createHash } from 'node:crypto'
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { PixpaxError } from '@pixpax/shared'
import { AppendFile, LocalLogCorruptError, parseLine, syncDir, type Line, type LineVerdict } from './append-file.js'
import { checkAppend, checkSetAck, closedError, normalizeEntry, outboxOrder, quarantineOrder, readWindow } from './append-check.js'
import type { Ack, LocalLog, LoggedReceipt, OutboxEntry, QuarantineEntry } from './local-log.js'
import { Mutex } from './mutex.js'

const RECEIPTS_FILE = 'receipts.ndjson'
const OUTBOX_FILE = 'outbox.jsonl'
const QUARANTINE_FILE = 'quarantine.ndjson'
const META_FILE = 'meta.json'
const ACKS_FILE = 'acks.ndjson'
const SNAPSHOT_FILE = 'snapshot.json'
const INDEX_FILE = 'index.json'
const INDEX_VERSION = 1
/** The index is rewritten once this many lines (or half the indexed count, if more) are not in it. */
const INDEX_MIN_TAIL = 4096

/** The stored index (index.json). */
interface StoredIndex {
  v: typeof INDEX_VERSION
  /** Bytes of receipts.ndjson it covers (a line boundary). */
  size: number
  /** Receipt lines it covers. */
  lines: number
  /** The last line in `size`: where it starts and the SHA-256 (hex) of its bytes without the newline. */
  lastOffset: number
  lastSha256: string
  /** Per stream: key, each line's offset minus the end of the previous line of the stream (mostly 0), lengths, head. */
  streams: Array<[string, number[], number[], LoggedReceipt]>
}

/** Adjacent lines closer than this are fetched with one read (the gap is read and skipped). */
const READ_GAP = 64 * 1024
/** Upper bound of one positioned read in `read`. */
const READ_SPAN = 4 * 1024 * 1024

/** Options of FileLocalLog.open. */
export interface FileLocalLogOptions {
  /** Rewrite the outbox journal once it has more lines than this (and ≥ 4 per live entry). Default 1024. */
  outboxCompactLines?: number
  /** Mode of files the log creates. Default 0o600 (receipts of private streams are private). */
  fileMode?: number
}

interface StreamIndex {
  /** Byte offset of each receipt's line; index seq − 1. */
  offsets: number[]
  /** Byte length of each line without its newline. */
  lengths: number[]
  head: LoggedReceipt
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const isEntry = (value: unknown): value is LoggedReceipt =>
  isObject(value) && typeof value.streamKey === 'string' && typeof value.seq === 'number' && isObject(value.receipt)
const isBatchHeader = (value: unknown): value is { batch: number } =>
  isObject(value) && Number.isSafeInteger(value.batch) && (value.batch as number) > 1 && Object.keys(value).length === 1
const isJournalLine = (value: unknown): value is { put: OutboxEntry } | { delete: string } =>
  isObject(value) && ((isObject(value.put) && typeof value.put.id === 'string') || typeof value.delete === 'string')
const isQuarantineEntry = (value: unknown): value is QuarantineEntry =>
  isObject(value) && typeof value.id === 'string' && typeof value.raw === 'string' && typeof value.at === 'number'
const isAckLine = (value: unknown): value is { streamKey: string; seq: number; ack: Ack } =>
  isObject(value) && typeof value.streamKey === 'string' && Number.isSafeInteger(value.seq) && isObject(value.ack)
const sha256Hex = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

const lineOf = (value: unknown): string => JSON.stringify(value) + '\n'

/** A LocalLog kept in a directory of append-only files; see the module comment for the layout. */
export class FileLocalLog implements LocalLog {
  readonly #streams = new Map<string, StreamIndex>()
  readonly #outbox = new Map<string, OutboxEntry>()
  #outboxLines = 0
  readonly #receiptsLock = new Mutex()
  readonly #outboxLock = new Mutex()
  readonly #quarantineLock = new Mutex()
  readonly #metaLock = new Mutex()
  readonly #snapshotLock = new Mutex()
  #meta: Record<string, unknown> = {}
  /** Acks stored by setAck: streamKey → seq → ack. */
  readonly #acks = new Map<string, Map<number, Ack>>()
  /** Receipt lines in the file, and how many of them the stored index covers. */
  #lines = 0
  #indexedLines = 0
  /** The file's last receipt line (what the stored index is bound to). */
  #last: { offset: number; length: number } | undefined
  #opened: { fromIndex: boolean; replayedBytes: number } = { fromIndex: false, replayedBytes: 0 }
  #closed = false

  private constructor(
    /** The directory holding the log's files. */
    readonly dir: string,
    private receipts: AppendFile,
    private outboxFile: AppendFile,
    private quarantine: AppendFile,
    private acksFile: AppendFile,
    private readonly options: Required<FileLocalLogOptions>,
  ) {}

  /**
   * Opens the log in `dir` (created, mode 0700, if missing), replaying its files and truncating torn
   * tails. Throws LocalLogCorruptError for damage that is not a torn tail.
   */
  static async open(dir: string, options: FileLocalLogOptions = {}): Promise<FileLocalLog> {
    const opts: Required<FileLocalLogOptions> = { outboxCompactLines: 1024, fileMode: 0o600, ...options }
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const files: AppendFile[] = []
    try {
      for (const name of [RECEIPTS_FILE, OUTBOX_FILE, QUARANTINE_FILE, ACKS_FILE])
        files.push(await AppendFile.open(join(dir, name), opts.fileMode))
      await syncDir(dir)
      const log = new FileLocalLog(dir, files[0]!, files[1]!, files[2]!, files[3]!, opts)
      const from = await log.#loadIndex()
      await log.#recoverReceipts(from)
      log.#opened = { fromIndex: from > 0, replayedBytes: log.receipts.size - from }
      await log.#recoverOutbox()
      await log.quarantine.recover((value) => (isQuarantineEntry(value) ? 'commit' : 'invalid'), isQuarantineEntry)
      await log.acksFile.recover((value) => {
        if (!isAckLine(value)) return 'invalid'
        log.#acksOf(value.streamKey).set(value.seq, value.ack)
        return 'commit'
      }, isAckLine)
      await log.#loadMeta()
      return log
    } catch (error) {
      await Promise.allSettled(files.map((file) => file.close()))
      throw error
    }
  }

  #acksOf(streamKey: string): Map<number, Ack> {
    let map = this.#acks.get(streamKey)
    if (!map) this.#acks.set(streamKey, (map = new Map<number, Ack>()))
    return map
  }

  /** A logged receipt with the ack setAck stored for it, if any (mutates and returns `entry`). */
  #withAck(entry: LoggedReceipt): LoggedReceipt {
    const ack = this.#acks.get(entry.streamKey)?.get(entry.seq)
    if (ack !== undefined && entry.ack === undefined) entry.ack = structuredClone(ack)
    return entry
  }

  /**
   * Restores the index from index.json if it still describes a prefix of receipts.ndjson, and returns
   * the byte offset replay must start from (0: no usable index, replay everything).
   */
  async #loadIndex(): Promise<number> {
    let text: string
    try {
      text = await readFile(join(this.dir, INDEX_FILE), 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0
      throw error
    }
    try {
      const stored = JSON.parse(text) as StoredIndex
      if (stored?.v !== INDEX_VERSION || !Number.isSafeInteger(stored.size) || stored.size <= 0 || stored.size > this.receipts.size)
        return 0
      const lastLength = stored.size - 1 - stored.lastOffset
      if (!Number.isSafeInteger(stored.lastOffset) || stored.lastOffset < 0 || lastLength < 0) return 0
      const tail = await this.receipts.readAt(stored.lastOffset, lastLength + 1)
      if (tail[lastLength] !== 10 || sha256Hex(tail.subarray(0, lastLength)) !== stored.lastSha256) return 0
      let lines = 0
      for (const [key, gaps, lengths, head] of stored.streams) {
        if (gaps.length !== lengths.length || !isEntry(head) || head.streamKey !== key || head.seq !== lengths.length) return 0
        const offsets = new Array<number>(gaps.length)
        let end = 0
        for (let i = 0; i < gaps.length; i++) {
          offsets[i] = end + gaps[i]!
          end = offsets[i]! + lengths[i]! + 1
        }
        if (end > stored.size) return 0
        this.#streams.set(key, { offsets, lengths, head })
        lines += lengths.length
      }
      if (lines !== stored.lines) throw new Error('line count')
      this.#lines = this.#indexedLines = lines
      this.#last = { offset: stored.lastOffset, length: lastLength }
      return stored.size
    } catch {
      this.#streams.clear() // a damaged index is ignored whole: replay everything
      return 0
    }
  }

  /** Writes index.json for the receipts file as it is now (temp file, fsync, rename). */
  async #writeIndex(): Promise<void> {
    const last = this.#last
    if (!last || this.#lines === this.#indexedLines) return
    const streams: StoredIndex['streams'] = []
    for (const [key, stream] of this.#streams) {
      const gaps = new Array<number>(stream.offsets.length)
      let end = 0
      for (let i = 0; i < gaps.length; i++) {
        gaps[i] = stream.offsets[i]! - end
        end = stream.offsets[i]! + stream.lengths[i]! + 1
      }
      streams.push([key, gaps, stream.lengths, stream.head])
    }
    const lastBytes = await this.receipts.readAt(last.offset, last.length)
    const stored: StoredIndex = {
      v: INDEX_VERSION,
      size: last.offset + last.length + 1,
      lines: this.#lines,
      lastOffset: last.offset,
      lastSha256: sha256Hex(lastBytes),
      streams,
    }
    await this.#replaceFile(INDEX_FILE, JSON.stringify(stored))
    this.#indexedLines = this.#lines
  }

  /** Replaces a whole file crash-safely: temp file, fsync, rename, fsync the directory. */
  async #replaceFile(name: string, text: string): Promise<void> {
    const path = join(this.dir, name)
    const temp = `${path}.tmp`
    const fh = await open(temp, 'w', this.options.fileMode)
    try {
      await fh.writeFile(text)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(temp, path)
    await syncDir(this.dir)
  }

  /**
   * How the last open rebuilt the index: from index.json (`fromIndex`, then `replayedBytes` of lines
   * after it were replayed) or by replaying the whole receipts file. For diagnostics and tests.
   */
  get opened(): { readonly fromIndex: boolean; readonly replayedBytes: number } {
    return this.#opened
  }

  async #recoverReceipts(from: number): Promise<void> {
    let batch: { remaining: number; items: Array<{ entry: LoggedReceipt; line: Line }> } | undefined
    const visit = (value: unknown, line: Line): LineVerdict => {
      if (isBatchHeader(value)) {
        if (batch) return 'invalid' // a header inside a batch: the previous one never finished
        batch = { remaining: value.batch, items: [] }
        return 'pending'
      }
      if (!isEntry(value)) return 'invalid'
      const items = batch ? batch.items : []
      items.push({ entry: value, line })
      if (batch && --batch.remaining > 0) return 'pending'
      batch = undefined
      this.#index(items)
      return 'commit'
    }
    await this.receipts.recover(visit, (value) => isEntry(value) || isBatchHeader(value), from)
  }

  /** Adds a replayed, complete batch to the index, checking it like `append` does. */
  #index(items: Array<{ entry: LoggedReceipt; line: Line }>): void {
    try {
      checkAppend(
        items.map((item) => item.entry),
        (key) => this.#streams.get(key)?.head,
      )
    } catch (error) {
      const first = items[0]!.line.offset
      const message = error instanceof PixpaxError ? `${error.code}: ${error.message}` : String(error)
      throw new LocalLogCorruptError(this.receipts.path, first, `a stored batch does not chain: ${message}`, { cause: error })
    }
    for (const { entry, line } of items) this.#indexLine(entry, line.offset, line.bytes.length)
  }

  #indexLine(entry: LoggedReceipt, offset: number, length: number): void {
    this.#lines++
    this.#last = { offset, length }
    const stream = this.#streams.get(entry.streamKey)
    if (stream) {
      stream.offsets.push(offset)
      stream.lengths.push(length)
      stream.head = entry
    } else {
      this.#streams.set(entry.streamKey, { offsets: [offset], lengths: [length], head: entry })
    }
  }

  async #recoverOutbox(): Promise<void> {
    await this.outboxFile.recover((value) => {
      if (!isJournalLine(value)) return 'invalid'
      if ('put' in value) this.#outbox.set(value.put.id, value.put)
      else this.#outbox.delete(value.delete)
      this.#outboxLines++
      return 'commit'
    }, isJournalLine)
    if (this.#outboxNeedsCompaction()) await this.#compactOutbox()
  }

  #outboxNeedsCompaction(): boolean {
    return this.#outboxLines > this.options.outboxCompactLines && this.#outboxLines >= 4 * this.#outbox.size
  }

  /** Rewrites the journal as one `put` per live entry: temp file, fsync, rename, fsync the directory. */
  async #compactOutbox(): Promise<void> {
    const path = join(this.dir, OUTBOX_FILE)
    const temp = `${path}.compact`
    const live = [...this.#outbox.values()].sort(outboxOrder)
    const fh = await open(temp, 'w', this.options.fileMode)
    try {
      await fh.writeFile(live.map((entry) => lineOf({ put: entry })).join(''))
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(temp, path)
    await syncDir(this.dir)
    await this.outboxFile.close()
    this.outboxFile = await AppendFile.open(path, this.options.fileMode)
    this.#outboxLines = live.length
  }

  #open(): void {
    if (this.#closed) throw closedError('FileLocalLog')
  }

  async append(entries: LoggedReceipt[]): Promise<void> {
    this.#open()
    return this.#receiptsLock.run(async () => {
      checkAppend(entries, (key) => this.#streams.get(key)?.head)
      if (entries.length === 0) return
      // One string and one buffer for the batch (a catch-up appends 500 receipts at a time): a buffer
      // per line and their concatenation were two copies of every line and an allocation each.
      const header = entries.length > 1 ? lineOf({ batch: entries.length }) : ''
      const lines = entries.map((entry) => lineOf(normalizeEntry(entry)))
      const bytes = Buffer.from(header + lines.join(''))
      const start = await this.receipts.append(bytes)
      const lastOfStream = new Map(entries.map((entry, i) => [entry.streamKey, i]))
      let offset = start + Buffer.byteLength(header)
      lines.forEach((line, i) => {
        const length = Buffer.byteLength(line)
        // Only a stream's last entry is kept (as its head), as a parsed copy: the caller's object may change.
        const at = offset - start
        const entry =
          lastOfStream.get(entries[i]!.streamKey) === i ? (parseLine(bytes.subarray(at, at + length - 1)) as LoggedReceipt) : entries[i]!
        this.#indexLine(entry, offset, length - 1)
        offset += length
      })
      if (this.#lines - this.#indexedLines >= Math.max(INDEX_MIN_TAIL, this.#indexedLines / 2)) {
        // A cache: failing to write it costs a longer open, never a receipt.
        await this.#writeIndex().catch(() => undefined)
      }
    })
  }

  async head(streamKey: string): Promise<LoggedReceipt | undefined> {
    this.#open()
    const head = this.#streams.get(streamKey)?.head
    return head && this.#withAck(structuredClone(head))
  }

  async read(streamKey: string, afterSeq?: number, limit?: number): Promise<LoggedReceipt[]> {
    this.#open()
    const stream = this.#streams.get(streamKey)
    const [from, to] = readWindow(stream?.offsets.length ?? 0, afterSeq, limit)
    if (!stream || from >= to) return []
    // Snapshot the window: appends may grow the arrays while we await reads.
    const offsets = stream.offsets.slice(from, to)
    const lengths = stream.lengths.slice(from, to)
    const out: LoggedReceipt[] = []
    for (let i = 0; i < offsets.length;) {
      const spanStart = offsets[i]!
      let j = i
      while (j + 1 < offsets.length) {
        const end = offsets[j]! + lengths[j]! + 1
        const next = offsets[j + 1]!
        if (next < end || next - end > READ_GAP || next + lengths[j + 1]! - spanStart > READ_SPAN) break
        j++
      }
      const buffer = await this.receipts.readAt(spanStart, offsets[j]! + lengths[j]! - spanStart)
      for (let k = i; k <= j; k++) {
        const at = offsets[k]! - spanStart
        out.push(this.#withAck(JSON.parse(buffer.toString('utf8', at, at + lengths[k]!)) as LoggedReceipt))
      }
      i = j + 1
    }
    return out
  }

  async streamKeys(): Promise<string[]> {
    this.#open()
    return [...this.#streams.keys()].sort()
  }

  async *scan(): AsyncIterable<LoggedReceipt> {
    this.#open()
    const end = this.receipts.size
    for await (const line of this.receipts.lines(0, end)) {
      const value = parseLine(line.bytes)
      if (isEntry(value)) yield this.#withAck(value)
    }
  }

  async putOutbox(entry: OutboxEntry): Promise<void> {
    this.#open()
    return this.#outboxLock.run(async () => {
      const text = lineOf({ put: entry })
      await this.outboxFile.append(Buffer.from(text))
      this.#outbox.set(entry.id, (JSON.parse(text) as { put: OutboxEntry }).put)
      this.#outboxLines++
      if (this.#outboxNeedsCompaction()) await this.#compactOutbox()
    })
  }

  async deleteOutbox(id: string): Promise<void> {
    this.#open()
    return this.#outboxLock.run(async () => {
      if (!this.#outbox.has(id)) return
      await this.outboxFile.append(Buffer.from(lineOf({ delete: id })))
      this.#outbox.delete(id)
      this.#outboxLines++
      if (this.#outboxNeedsCompaction()) await this.#compactOutbox()
    })
  }

  async listOutbox(): Promise<OutboxEntry[]> {
    this.#open()
    return structuredClone([...this.#outbox.values()].sort(outboxOrder))
  }

  async addQuarantine(entry: QuarantineEntry): Promise<void> {
    this.#open()
    return this.#quarantineLock.run(async () => {
      await this.quarantine.append(Buffer.from(lineOf(entry)))
    })
  }

  async listQuarantine(): Promise<QuarantineEntry[]> {
    this.#open()
    const byId = new Map<string, QuarantineEntry>()
    for await (const line of this.quarantine.lines(0, this.quarantine.size)) {
      const value = parseLine(line.bytes)
      if (isQuarantineEntry(value)) byId.set(value.id, value)
    }
    return [...byId.values()].sort(quarantineOrder)
  }

  async #loadMeta(): Promise<void> {
    let text: string
    try {
      text = await readFile(join(this.dir, META_FILE), 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw error
    }
    const value: unknown = JSON.parse(text)
    if (!isObject(value)) throw new LocalLogCorruptError(join(this.dir, META_FILE), 0, 'meta.json is not a JSON object')
    this.#meta = value
  }

  async getMeta(key: string): Promise<unknown> {
    this.#open()
    const value = this.#meta[key]
    return value === undefined ? undefined : structuredClone(value)
  }

  async putMeta(key: string, value: unknown): Promise<void> {
    this.#open()
    return this.#metaLock.run(async () => {
      const next = { ...this.#meta }
      if (value === undefined) delete next[key]
      else next[key] = JSON.parse(JSON.stringify(value)) as unknown
      const path = join(this.dir, META_FILE)
      const temp = `${path}.tmp`
      const fh = await open(temp, 'w', this.options.fileMode)
      try {
        await fh.writeFile(JSON.stringify(next))
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(temp, path)
      await syncDir(this.dir)
      this.#meta = next
    })
  }

  async setAck(streamKey: string, seq: number, ack: Ack): Promise<void> {
    this.#open()
    return this.#receiptsLock.run(async () => {
      const stream = this.#streams.get(streamKey)
      const logged =
        stream && Number.isSafeInteger(seq) && seq >= 1 && seq <= stream.offsets.length
          ? (await this.read(streamKey, seq - 1, 1))[0]
          : undefined
      if (!checkSetAck(streamKey, seq, logged, ack)) return
      const text = lineOf({ streamKey, seq, ack })
      await this.acksFile.append(Buffer.from(text))
      this.#acksOf(streamKey).set(seq, (JSON.parse(text) as { ack: Ack }).ack)
    })
  }

  async getSnapshot(): Promise<string | undefined> {
    this.#open()
    try {
      return await readFile(join(this.dir, SNAPSHOT_FILE), 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
  }

  async putSnapshot(text: string | undefined): Promise<void> {
    this.#open()
    return this.#snapshotLock.run(async () => {
      if (text !== undefined) return this.#replaceFile(SNAPSHOT_FILE, text)
      try {
        await unlink(join(this.dir, SNAPSHOT_FILE))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      }
      await syncDir(this.dir)
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([
      this.#receiptsLock.idle(),
      this.#outboxLock.idle(),
      this.#quarantineLock.idle(),
      this.#metaLock.idle(),
      this.#snapshotLock.idle(),
    ])
    // The index makes the next open fast; a failure to write it only makes that open replay.
    await this.#writeIndex().catch(() => undefined)
    await Promise.allSettled([this.receipts.close(), this.outboxFile.close(), this.quarantine.close(), this.acksFile.close()])
  }
}
