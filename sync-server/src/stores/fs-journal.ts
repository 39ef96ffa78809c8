/**
 * The fs store's write-ahead journal: what makes a small object durable with one fdatasync per group of
 * writes instead of two fsyncs per object (the file's and its directory's). On this machine's ext4 an
 * fsync costs ~0.2–0.3 ms and the journal serialises them, so a batch of 60 receipts in 60 streams paid
 * ~28 ms of fsyncs alone, and the log's tiles and checkpoint as much again, all on the path of every ack
 * and every delivery.
 *
 * Protocol (the store's side is in fs-object-store.ts):
 * 1. A write appends its records (`create` | `put` | `delete`, with key and bytes) to the current
 *    segment; concurrent writes share one write + fdatasync (group commit: while one flush is under way
 *    the next group gathers). The write resolves once its records are durable.
 * 2. Only then does the store make the change visible (link / rename / unlink, no fsync), so every name a
 *    reader can see has a durable record: after a power loss that tore or dropped the file, replay
 *    restores it.
 * 3. Segments rotate (size, age). A rotated segment is retired once the kernel has had time to write its
 *    files back (RETIRE_AFTER_MS, past Linux's 30 s dirty expiry): every file and directory it touched is
 *    fsync'd — mostly no-ops by then — and the segment deleted.
 * 4. Opening the store claims every segment whose writer is gone (closed cleanly, its process dead, or
 *    written before the last boot) by renaming it to this process's name (atomic: one claimer wins),
 *    replays it — the last record of each key, in segment order — and retires it like its own.
 *
 * Replay rules: `put` makes the file hold the record's bytes; `delete` removes it; `create` (putIfAbsent)
 * writes it only when it is missing or holds a proper prefix of the record (a torn write: empty or cut
 * short), because another process may have won the name with other bytes (its link came first, ours
 * failed with EEXIST after our record was durable) — the winner's object is never overwritten.
 *
 * A segment is `.journal/<stamp>.<owner>.wal`: `<stamp>` orders segments (ms × 1000 + a counter, zero
 * padded), `<owner>` is `<pid>-<boot>` while a process writes it (boot: the first 12 hex digits of the
 * kernel's boot id) and `closed` after a clean close. Record framing: op (u8), key length (u16), body
 * length (u32), key, body, then the first 8 bytes of SHA-256 over everything before; replay stops at the
 * first record that is cut short or fails its check (the torn tail of a crash).
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  close,
  closeSync,
  constants,
  fdatasync,
  fsync,
  fsyncSync,
  mkdirSync,
  open,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  write,
  writeSync,
} from 'node:fs'
import { uptime } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { tempPath } from './fs-link-ops.mjs'

export type JournalOp = 'create' | 'put' | 'delete'

export interface JournalRecord {
  op: JournalOp
  key: string
  /** Empty for `delete`. */
  bytes: Uint8Array
}

export interface FsJournalOptions {
  /** Rotate the segment past this many bytes (default 8 MiB). */
  rotateBytes?: number
  /** Rotate a non-empty segment this old (default 10 s). */
  rotateMs?: number
  /** Retire a segment this long after it rotated (default 35 s). */
  retireAfterMs?: number
  /** The kernel's boot id (tests pretend a reboot); read from /proc by default. */
  bootId?: string
  /** Called with the number of objects a replay repaired (logs). */
  onReplay?: (stats: { segments: number; records: number; repaired: number; failed: number }) => void
}

const DSYNC: number | undefined = constants.O_DSYNC
/** Size of a process's first segment (FsJournalOptions.rotateBytes is the size of the others). */
const FIRST_SEGMENT_BYTES = 1024 * 1024

const OPS: Record<JournalOp, number> = { create: 1, put: 2, delete: 3 }
const OP_NAMES: Record<number, JournalOp> = { 1: 'create', 2: 'put', 3: 'delete' }
const HEAD = 1 + 2 + 4
const CHECK = 8
const MAGIC = Buffer.from('pixpax-fs-journal 1\n')

const openAsync = promisify(open)
const writeAsync = promisify(write)
const fdatasyncAsync = promisify(fdatasync)
const fsyncAsync = promisify(fsync)
const closeAsync = promisify(close)

export function encodeRecords(records: readonly JournalRecord[]): Buffer {
  const keys = records.map((r) => Buffer.from(r.key, 'utf8'))
  let size = 0
  for (const [i, r] of records.entries()) size += HEAD + keys[i]!.length + r.bytes.length + CHECK
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (const [i, r] of records.entries()) {
    const start = at
    out.writeUInt8(OPS[r.op], at)
    out.writeUInt16BE(keys[i]!.length, at + 1)
    out.writeUInt32BE(r.bytes.length, at + 3)
    at += HEAD
    at += keys[i]!.copy(out, at)
    out.set(r.bytes, at)
    at += r.bytes.length
    createHash('sha256').update(out.subarray(start, at)).digest().copy(out, at, 0, CHECK)
    at += CHECK
  }
  return out
}

/** The records of a segment's bytes (after the magic line), up to the first torn or damaged one. */
export function decodeRecords(bytes: Uint8Array): { records: JournalRecord[]; torn: boolean } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: JournalRecord[] = []
  let at = 0
  while (at < buf.length) {
    if (buf.length - at < HEAD) return { records, torn: true }
    const op = OP_NAMES[buf.readUInt8(at)]
    const keyLength = buf.readUInt16BE(at + 1)
    const bodyLength = buf.readUInt32BE(at + 3)
    const end = at + HEAD + keyLength + bodyLength
    if (!op || end + CHECK > buf.length) return { records, torn: true }
    const check = createHash('sha256').update(buf.subarray(at, end)).digest().subarray(0, CHECK)
    if (!check.equals(buf.subarray(end, end + CHECK))) return { records, torn: true }
    const key = buf.toString('utf8', at + HEAD, at + HEAD + keyLength)
    records.push({ op, key, bytes: new Uint8Array(buf.subarray(at + HEAD + keyLength, end)) })
    at = end + CHECK
  }
  return { records, torn: false }
}

interface Segment {
  name: string
  path: string
  fd: number | undefined
  /** Bytes written with zeros up front: appends past it would change the file's size. */
  capacity: number
  size: number
  openedAt: number
  /** Files and directories its records touched: fsync'd before the segment is deleted. */
  files: Set<string>
  dirs: Set<string>
  /** Writes whose records are in it but whose change is not made visible yet. */
  unfinished: number
  rotatedAt?: number
}

interface Waiter {
  bytes: Buffer
  resolve: (segment: Segment) => void
  reject: (error: unknown) => void
}

/** Where a record's key lives on disk (the store's layout). */
export type KeyPath = (key: string) => string

export class FsJournal {
  readonly #dir: string
  readonly #pathOf: KeyPath
  readonly #owner: string
  readonly #boot: string
  readonly #options: Required<Omit<FsJournalOptions, 'bootId' | 'onReplay'>>
  #segment: Segment | undefined
  /** The next segment, preallocated while the current one fills (see #prepare). */
  #spare: Promise<Segment> | undefined
  readonly #retiring: Segment[] = []
  #queue: Waiter[] = []
  #flushing: Promise<void> | undefined
  #stamp = 0
  /** Segments this journal has prepared (the first one is smaller). */
  #prepared = 0
  #timer: NodeJS.Timeout | undefined
  #retirement: Promise<void> | undefined
  #closed = false

  private constructor(root: string, pathOf: KeyPath, options: FsJournalOptions) {
    this.#dir = join(root, '.journal')
    this.#pathOf = pathOf
    this.#boot = (options.bootId ?? bootId())
      .replace(/[^0-9a-f]/gi, '')
      .slice(0, 12)
      .toLowerCase()
    this.#owner = `${process.pid}-${this.#boot}`
    this.#options = {
      rotateBytes: options.rotateBytes ?? 8 * 1024 * 1024,
      rotateMs: options.rotateMs ?? 10_000,
      retireAfterMs: options.retireAfterMs ?? 35_000,
    }
  }

  /** Opens the journal of the store at `root`: claims and replays what writers that are gone left. */
  static open(root: string, pathOf: KeyPath, options: FsJournalOptions = {}): FsJournal {
    const journal = new FsJournal(root, pathOf, options)
    journal.#recover(options.onReplay)
    return journal
  }

  /**
   * Appends `records` and resolves once they are durable, with a `done` to call after the change is
   * made visible (the segment is not retired before).
   */
  async append(records: readonly JournalRecord[]): Promise<() => void> {
    if (this.#closed) throw new Error('the fs store is closed')
    const bytes = encodeRecords(records)
    const segment = await new Promise<Segment>((resolve, reject) => {
      this.#queue.push({ bytes, resolve, reject })
      this.#flushing ??= this.#flush()
    })
    for (const r of records) {
      const path = this.#pathOf(r.key)
      segment.files.add(path)
      segment.dirs.add(dirname(path))
    }
    let finished = false
    return () => {
      if (finished) return
      finished = true
      segment.unfinished--
    }
  }

  /** Waits for pending records, stops the retirement timer and marks this process's segments closed. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    while (this.#flushing) await this.#flushing
    await this.#retirement
    const spare = await this.#spare?.catch(() => undefined)
    this.#spare = undefined
    if (spare) {
      await closeAsync(spare.fd!)
      unlinkSync(spare.path)
    }
    const mine = [...this.#retiring, ...(this.#segment ? [this.#segment] : [])]
    this.#segment = undefined
    this.#retiring.length = 0
    for (const s of mine) {
      if (s.fd !== undefined) await closeAsync(s.fd)
      s.fd = undefined
      // The next opener claims it: its files may still be only in the page cache.
      try {
        renameSync(s.path, join(this.#dir, `${s.name.split('.')[0]}.closed.wal`))
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw error // else claimed already, by an opener that took us for gone
      }
    }
  }

  /** Retires every rotated segment that is old enough now (tests; the timer does it otherwise). */
  async retireDue(now = Date.now()): Promise<number> {
    const due = this.#retiring.filter((s) => s.unfinished === 0 && now - s.rotatedAt! >= this.#options.retireAfterMs)
    for (const s of due) {
      await syncSegment(this.#dir, s)
      unlinkSync(s.path)
      this.#retiring.splice(this.#retiring.indexOf(s), 1)
    }
    return due.length
  }

  /** Rotates the current segment now (tests). */
  rotate(): void {
    if (this.#segment && this.#segment.size > MAGIC.length) this.#rotate()
  }

  /** Names of the segments in the journal directory (tests, diagnostics). */
  segments(): string[] {
    try {
      return readdirSync(this.#dir)
        .filter((n) => n.endsWith('.wal'))
        .sort()
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return []
      throw error
    }
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length) {
        const group = this.#queue
        this.#queue = []
        try {
          const bytes = group.length === 1 ? group[0]!.bytes : Buffer.concat(group.map((w) => w.bytes))
          const segment = await this.#current(bytes.length)
          for (let offset = 0; offset < bytes.length;) {
            offset += (await writeAsync(segment.fd!, bytes, offset, bytes.length - offset, segment.size + offset)).bytesWritten
          }
          segment.size += bytes.length
          if (!DSYNC) await fdatasyncAsync(segment.fd!)
          segment.unfinished += group.length
          for (const w of group) w.resolve(segment)
        } catch (error) {
          for (const w of group) w.reject(error)
        }
      }
    } finally {
      this.#flushing = undefined
    }
  }

  /** The segment to append `length` bytes to: rotated first when they would not fit or it is old. */
  async #current(length: number): Promise<Segment> {
    const s = this.#segment
    const { rotateMs } = this.#options
    if (s && s.size > MAGIC.length && (s.size + length > s.capacity || Date.now() - s.openedAt >= rotateMs)) this.#rotate()
    if (!this.#segment) {
      const next = await (this.#spare ??= this.#prepare())
      this.#spare = undefined
      next.openedAt = Date.now()
      this.#segment = next
    }
    const current = this.#segment
    // The next one is prepared once this one is half full or half its time old.
    if (!this.#spare && (current.size * 2 > current.capacity || (Date.now() - current.openedAt) * 2 > rotateMs)) {
      const spare = this.#prepare()
      spare.catch(() => undefined) // awaited when it is needed; a failure then is that write's error
      this.#spare = spare
    }
    return current
  }

  #rotate(): void {
    const s = this.#segment!
    this.#segment = undefined
    closeSync(s.fd!)
    s.fd = undefined
    s.rotatedAt = Date.now()
    this.#retiring.push(s)
  }

  /**
   * A new segment, its whole size written with zeros and fsync'd up front (as Postgres does its WAL
   * segments): a later append then changes no file metadata, so its fdatasync flushes the data alone
   * and never waits for a filesystem journal commit (measured here: 0.13 ms against 0.34 ms).
   */
  async #prepare(): Promise<Segment> {
    mkdirSync(this.#dir, { recursive: true })
    const name = `${this.#nextStamp()}.${this.#owner}.wal`
    const path = join(this.#dir, name)
    const fd = await openAsync(path, 'wx', 0o644)
    // The first segment of a process is small: most stores (a test's, a CLI's) write little, and each
    // segment is written out whole up front. The ones after it have the full size.
    const capacity = this.#prepared++ === 0 ? Math.min(FIRST_SEGMENT_BYTES, this.#options.rotateBytes) : this.#options.rotateBytes
    const zeros = Buffer.alloc(Math.max(0, capacity - MAGIC.length))
    const first = Buffer.concat([MAGIC, zeros])
    for (let offset = 0; offset < first.length;) offset += (await writeAsync(fd, first, offset, first.length - offset, offset)).bytesWritten
    await fsyncAsync(fd)
    await closeAsync(fd)
    fsyncDirSync(this.#dir)
    fsyncDirSync(dirname(this.#dir))
    this.#startTimer()
    // Appends open with O_DSYNC where there is one: each write returns once durable, one thread-pool
    // round trip instead of two (write, then fdatasync) — under load each round trip waits for a core.
    const appendFd = await openAsync(path, DSYNC ? constants.O_WRONLY | DSYNC : constants.O_WRONLY)
    return {
      name,
      path,
      fd: appendFd,
      capacity,
      size: MAGIC.length,
      openedAt: Date.now(),
      files: new Set(),
      dirs: new Set(),
      unfinished: 0,
    }
  }

  #nextStamp(): string {
    this.#stamp = Math.max(this.#stamp + 1, Date.now() * 1000)
    return String(this.#stamp).padStart(17, '0')
  }

  #startTimer(): void {
    if (this.#timer) return
    const every = Math.max(1000, Math.min(this.#options.rotateMs, this.#options.retireAfterMs) / 2)
    this.#timer = setInterval(() => {
      // An idle segment rotates on time too, so its records can be retired.
      if (
        this.#segment &&
        !this.#flushing &&
        this.#segment.size > MAGIC.length &&
        Date.now() - this.#segment.openedAt >= this.#options.rotateMs
      ) {
        this.#rotate()
      }
      this.#retirement ??= this.retireDue()
        .then(
          () => undefined,
          () => undefined, // tried again at the next tick
        )
        .finally(() => (this.#retirement = undefined))
    }, every)
    this.#timer.unref()
  }

  /** Claims the segments of writers that are gone, replays them in order, and queues them to retire. */
  #recover(onReplay: FsJournalOptions['onReplay']): void {
    const claimed: Segment[] = []
    for (const name of this.segments()) {
      const [stamp, owner] = name.split('.')
      if (!stamp || !owner || owner === this.#owner || !this.#gone(owner)) continue
      const mine = `${stamp}.${this.#owner}.wal`
      try {
        renameSync(join(this.#dir, name), join(this.#dir, mine))
      } catch (error) {
        if (errorCode(error) === 'ENOENT') continue // another opener claimed it first
        throw error
      }
      this.#stamp = Math.max(this.#stamp, Number(stamp))
      claimed.push({
        name: mine,
        path: join(this.#dir, mine),
        fd: undefined,
        capacity: 0,
        size: 0,
        openedAt: 0,
        files: new Set(),
        dirs: new Set(),
        unfinished: 0,
      })
    }
    if (claimed.length === 0) return
    // The last record of each key across the claimed segments, in order.
    const last = new Map<string, JournalRecord>()
    let records = 0
    for (const s of claimed) {
      const bytes = readFileSync(s.path)
      const body = bytes.subarray(0, MAGIC.length).equals(MAGIC) ? bytes.subarray(MAGIC.length) : new Uint8Array(0)
      for (const r of decodeRecords(body).records) {
        records++
        last.delete(r.key) // re-inserted: Map order is the order of the last writes
        last.set(r.key, r)
        const path = this.#pathOf(r.key)
        s.files.add(path)
        s.dirs.add(dirname(path))
      }
    }
    let repaired = 0
    let failed = 0
    for (const r of last.values()) {
      try {
        if (replayRecord(this.#pathOf(r.key), r)) repaired++
      } catch {
        // A key that collides with a directory (the write was refused after its record was durable).
        failed++
      }
    }
    const now = Date.now()
    for (const s of claimed) {
      s.rotatedAt = now
      this.#retiring.push(s)
    }
    this.#startTimer()
    onReplay?.({ segments: claimed.length, records, repaired, failed })
  }

  /** True if the writer named `owner` can no longer write its segment. */
  #gone(owner: string): boolean {
    if (owner === 'closed') return true
    const [pid, boot] = owner.split('-')
    if (boot !== this.#boot) return true // written before the last boot
    try {
      process.kill(Number(pid), 0)
      return false
    } catch (error) {
      return errorCode(error) === 'ESRCH'
    }
  }
}

/** Makes the file at `path` what the record says; true if it had to change anything. */
function replayRecord(path: string, record: JournalRecord): boolean {
  let current: Buffer | undefined
  try {
    current = readFileSync(path)
  } catch (error) {
    const code = errorCode(error)
    if (code === 'EISDIR') return false // a directory of other keys: the write was refused
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error
  }
  if (record.op === 'delete') {
    if (current === undefined) return false
    unlinkSync(path)
    fsyncDirSync(dirname(path))
    return true
  }
  const wanted = Buffer.from(record.bytes.buffer, record.bytes.byteOffset, record.bytes.byteLength)
  if (current?.equals(wanted)) return false
  // Another writer's object at a created name is left alone; only a torn copy of ours is mended.
  if (
    record.op === 'create' &&
    current !== undefined &&
    !(current.length < wanted.length && wanted.subarray(0, current.length).equals(current))
  ) {
    return false
  }
  writeDurably(path, wanted)
  return true
}

/** Temp file, fsync, rename into place, fsync the directory (and every directory it had to make). */
function writeDurably(path: string, bytes: Buffer): void {
  const dir = dirname(path)
  const made = mkdirSync(dir, { recursive: true })
  if (made !== undefined) for (let d = dir; d !== dirname(made); d = dirname(d)) fsyncDirSync(dirname(d))
  const tmp = tempPath(dir)
  const fd = openSync(tmp, 'wx', 0o644)
  try {
    writeSync(fd, bytes)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  fsyncDirSync(dir)
}

const execFileAsync = promisify(execFile)
/** Whether `sync -f` (syncfs(2), coreutils ≥ 8.24) works here; undefined until first tried. */
let syncFsWorks: boolean | undefined

/**
 * Makes every file and directory a segment touched durable before it is deleted. Where they are all on
 * the journal's filesystem, one syncfs(2) does it (Node has no binding; coreutils' `sync -f` is one
 * child process): measured here for a 10,000-file segment — what 10 s of 1,000 receipts a second
 * touch — 9 ms and 5 ms of CPU, against 925 ms and 1,063 ms of CPU for an fsync per file (three
 * thread-pool round trips each, every 10 s beside the writes). Elsewhere (no `sync -f`: macOS; a
 * directory on another mount), an fsync per path.
 */
async function syncSegment(journalDir: string, segment: Segment): Promise<void> {
  if (segment.files.size + segment.dirs.size === 0) return
  if (syncFsWorks !== false && sameFileSystem(journalDir, segment.dirs)) {
    try {
      await execFileAsync('sync', ['-f', journalDir])
      syncFsWorks = true
      return
    } catch {
      // Never worked: no `sync -f` here, use fsyncs from now on. Worked before: a write-back error, which
      // the per-path fsyncs below report (the segment is kept until they succeed).
      syncFsWorks ??= false
    }
  }
  await syncAll(segment)
}

/** True when every directory (and so every file in it) is on the filesystem holding `dir`. */
function sameFileSystem(dir: string, dirs: ReadonlySet<string>): boolean {
  const device = statSync(dir).dev
  for (const d of dirs) {
    const s = statSync(d, { throwIfNoEntry: false })
    if (s && s.dev !== device) return false
  }
  return true
}

/** fsyncs every file and directory a segment touched (a file deleted since is skipped). */
async function syncAll(segment: Segment): Promise<void> {
  const paths = [...segment.files, ...segment.dirs]
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < paths.length; i = next++) {
      let fd: number
      try {
        fd = await openAsync(paths[i]!, 'r')
      } catch (error) {
        const code = errorCode(error)
        if (code === 'ENOENT' || code === 'ENOTDIR') continue
        throw error
      }
      try {
        await fsyncAsync(fd)
      } finally {
        await closeAsync(fd)
      }
    }
  }
  // Few at a time: this runs beside the writes whose latency the journal is for.
  await Promise.all(Array.from({ length: Math.min(4, paths.length) }, worker))
}

function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

let cachedBootId: string | undefined
/** The kernel's boot id (Linux); elsewhere the boot time to the minute, which serves the same purpose. */
function bootId(): string {
  if (cachedBootId) return cachedBootId
  try {
    cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    cachedBootId = Math.round((Date.now() / 1000 - uptime()) / 60).toString(16)
  }
  return cachedBootId
}

/** The `code` of a Node system error (ENOENT, EEXIST…), shared with fs-object-store.ts. */
export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined
}
