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
 *
 * On open each file is replayed: a torn tail — a last line without its newline, unparseable bytes, an
 * unfinished batch — is truncated, keeping everything before it; damage followed by valid lines is not a
 * torn write but corruption, and open throws LocalLogCorruptError rather than silently drop receipts.
 *
 * Memory: the receipts are not kept in memory. The index holds, per stream, the byte offset and length
 * of each receipt's line (two numbers per receipt: ~1.6 MB for 100k) and the parsed head, so `read` is a
 * few positioned reads of adjacent lines, never a rescan. Open replays the file once (it checks every
 * line's chain position, so a damaged file is noticed then, not later).
 *
 * One process per directory: the index lives in this process, so a second writer would corrupt it.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { PixpaxError } from '@pixpax/shared'
import { AppendFile, LocalLogCorruptError, parseLine, syncDir, type Line, type LineVerdict } from './append-file.js'
import { checkAppend, closedError, normalizeEntry, outboxOrder, quarantineOrder, readWindow } from './append-check.js'
import type { LocalLog, LoggedReceipt, OutboxEntry, QuarantineEntry } from './local-log.js'
import { Mutex } from './mutex.js'

const RECEIPTS_FILE = 'receipts.ndjson'
const OUTBOX_FILE = 'outbox.jsonl'
const QUARANTINE_FILE = 'quarantine.ndjson'
const META_FILE = 'meta.json'

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
  #meta: Record<string, unknown> = {}
  #closed = false

  private constructor(
    /** The directory holding the log's files. */
    readonly dir: string,
    private receipts: AppendFile,
    private outboxFile: AppendFile,
    private quarantine: AppendFile,
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
      for (const name of [RECEIPTS_FILE, OUTBOX_FILE, QUARANTINE_FILE]) files.push(await AppendFile.open(join(dir, name), opts.fileMode))
      await syncDir(dir)
      const log = new FileLocalLog(dir, files[0]!, files[1]!, files[2]!, opts)
      await log.#recoverReceipts()
      await log.#recoverOutbox()
      await log.quarantine.recover((value) => (isQuarantineEntry(value) ? 'commit' : 'invalid'), isQuarantineEntry)
      await log.#loadMeta()
      return log
    } catch (error) {
      await Promise.allSettled(files.map((file) => file.close()))
      throw error
    }
  }

  async #recoverReceipts(): Promise<void> {
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
    await this.receipts.recover(visit, (value) => isEntry(value) || isBatchHeader(value))
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
      const header = entries.length > 1 ? Buffer.from(lineOf({ batch: entries.length })) : undefined
      const lines = entries.map((entry) => Buffer.from(lineOf(normalizeEntry(entry))))
      const start = await this.receipts.append(Buffer.concat(header ? [header, ...lines] : lines))
      const lastOfStream = new Map(entries.map((entry, i) => [entry.streamKey, i]))
      let offset = start + (header?.length ?? 0)
      lines.forEach((line, i) => {
        // Only a stream's last entry is kept (as its head), as a parsed copy: the caller's object may change.
        const entry = lastOfStream.get(entries[i]!.streamKey) === i ? (parseLine(line.subarray(0, -1)) as LoggedReceipt) : entries[i]!
        this.#indexLine(entry, offset, line.length - 1)
        offset += line.length
      })
    })
  }

  async head(streamKey: string): Promise<LoggedReceipt | undefined> {
    this.#open()
    const head = this.#streams.get(streamKey)?.head
    return head && structuredClone(head)
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
        out.push(JSON.parse(buffer.toString('utf8', at, at + lengths[k]!)) as LoggedReceipt)
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
      if (isEntry(value)) yield value
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

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([this.#receiptsLock.idle(), this.#outboxLock.idle(), this.#quarantineLock.idle(), this.#metaLock.idle()])
    await Promise.allSettled([this.receipts.close(), this.outboxFile.close(), this.quarantine.close()])
  }
}
