import { close, constants, fsync, lstatSync, open as openFd, readFileSync, write, type Dirent } from 'node:fs'
import { availableParallelism } from 'node:os'
import { access, link, lstat, mkdir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises'
import { promisify } from 'node:util'
import { dirname, join, resolve } from 'node:path'
import { assertObjectKey, putAllThenEach, type ObjectStore, type ObjectToPut } from './object-store.js'
import { parseListPrefix } from './list-prefix.js'
import { errorCode, FsJournal, type FsJournalOptions } from './fs-journal.js'
import { tempPath, unlinkQuietly as unlinkQuietlySync } from './fs-link-ops.mjs'
import { inlineLinker, WorkerLinker, type FsLinker, type LinkOp, type LinkOutcome } from './fs-linker.js'

/** Objects up to this size go through the journal; larger ones (media) are fsync'd in place. */
export const JOURNAL_MAX_OBJECT_BYTES = 256 * 1024

export interface FsObjectStoreOptions {
  /**
   * The write-ahead journal (fs-journal.ts): one fdatasync per group of small writes instead of two
   * fsyncs per object. On by default; `false` writes every object durably in place.
   */
  journal?: false | FsJournalOptions
  /**
   * Where journaled objects are linked into place: on a worker thread (the default on a machine with
   * more than one core) or inline on the caller's.
   */
  linkWorker?: boolean
}

/**
 * The embedded object store: one file per object under `root`, the key's segments as directories, so
 * `./data/pixpax/pixbooks/…/events/01J….json` can be read with `cat`.
 *
 * Atomicity: every write goes to a temp file in the target directory (named `.tmp-…`; a leading `.` is
 * never a valid key segment, so temp files can be neither listed nor read), then is `link()`ed
 * (putIfAbsent: the kernel refuses an existing name, so two processes racing on one key get exactly one
 * `created`) or `rename()`d (put) into place.
 *
 * Durability: an object up to JOURNAL_MAX_OBJECT_BYTES is first recorded in the store's write-ahead
 * journal (`.journal/`, fs-journal.ts: one fdatasync shared by every write under way) and only then
 * linked into place, so a name is never visible before its bytes are durable somewhere; opening the
 * store replays what a crashed writer left. A larger object (or every object with `journal: false`) is
 * fsync'd before it is linked, and its directory after.
 *
 * One difference from S3: a key cannot also be a "directory" of other keys (`a` and `a/b` cannot both
 * exist). The PixPax layout never does that; a write that would throws instead of corrupting anything.
 * The store needs a filesystem with hard links (any local Linux/macOS filesystem).
 */
export class FsObjectStore implements ObjectStore {
  readonly name = 'fs'
  readonly root: string
  readonly #listings = new ListingCache()
  /** Directories this store made (or found) and made durable: no mkdir and no parent fsync per write. */
  readonly #dirs = new KnownDirs()
  readonly #journalOptions: false | FsJournalOptions
  #journalOpened: FsJournal | undefined
  readonly #linker: FsLinker

  constructor(root: string, options: FsObjectStoreOptions = {}) {
    this.root = resolve(root)
    this.#journalOptions = options.journal ?? {}
    this.#linker = (options.linkWorker ?? availableParallelism() > 1) ? new WorkerLinker() : inlineLinker()
  }

  /**
   * The journal, opened (and what crashed writers left replayed) on first use — reads wait for it too,
   * so nothing torn is ever read. Undefined with `journal: false`.
   */
  get journal(): FsJournal | undefined {
    if (this.#journalOptions === false) return undefined
    return (this.#journalOpened ??= FsJournal.open(this.root, (key) => this.#path(key), this.#journalOptions))
  }

  /** The journal where every object is small enough for it. */
  #journalFor(...objects: Uint8Array[]): FsJournal | undefined {
    const journal = this.journal
    return journal && objects.every((o) => o.byteLength <= JOURNAL_MAX_OBJECT_BYTES) ? journal : undefined
  }

  async putIfAbsent(key: string, bytes: Uint8Array): Promise<'created' | 'exists'> {
    const path = this.#path(key)
    const dir = dirname(path)
    const journal = this.#journalFor(bytes)
    await this.#ensureDir(dir, key)
    if (journal) {
      if (this.#isObjectSync(path, key)) {
        await fsyncPaths([path, dir]) // the writer that linked it may be another process, its journal not ours
        return 'exists'
      }
      const done = await journal.append([{ op: 'create', key, bytes }])
      try {
        const [outcome] = await this.#link([{ op: 'create', key, path, bytes }])
        if (outcome === 'exists') await fsyncPaths([path, dir])
        return outcome as 'created' | 'exists'
      } finally {
        done()
      }
    }
    // Cheap pre-check: an idempotent retry should not cost a temp file and two fsyncs.
    if (await this.#isObject(path, key)) {
      await fsyncDir(dir) // the writer that linked it may not have made the name durable yet
      return 'exists'
    }
    const tmp = await this.#writeTemp(dir, key, bytes)
    let outcome: 'created' | 'exists'
    try {
      await link(tmp, path)
      outcome = 'created'
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err
      if (!(await this.#isObject(path, key))) throw conflict(key)
      outcome = 'exists'
    } finally {
      await unlinkQuietly(tmp)
    }
    await fsyncDir(dir)
    return outcome
  }

  /**
   * A chain of objects (one stream's receipts) at the cost of about one fsync: every temp file is written
   * and fsync'd in parallel, then linked into place one after the other in order (a crash stops the
   * links, so a prefix is visible; the journal keeps link order), then each directory is fsync'd once.
   * No existence pre-check here, unlike putIfAbsent: the appender writes only receipts it just accepted,
   * which are new but for the rare leftover of a crash, and `link` refuses an existing name anyway — so
   * the common case saves a stat per object and the rare one pays a temp file.
   */
  async putIfAbsentInOrder(items: readonly ObjectToPut[]): Promise<Array<'created' | 'exists'>> {
    const paths = items.map((i) => this.#path(i.key))
    const dirs = [...new Set(paths.map((p) => dirname(p)))]
    const journal = this.#journalFor(...items.map((i) => i.bytes))
    for (const dir of dirs) await this.#ensureDir(dir, items[paths.findIndex((p) => dirname(p) === dir)]!.key)
    if (journal) {
      // One record each, durable together; then the names in order (a crash mid-way: replay links the rest).
      const done = await journal.append(items.map((i) => ({ op: 'create', key: i.key, bytes: i.bytes })))
      try {
        const out = (await this.#link(
          items.map((item, i) => ({ op: 'create', key: item.key, path: paths[i]!, bytes: item.bytes })),
        )) as Array<'created' | 'exists'>
        const existing = paths.filter((_, i) => out[i] === 'exists')
        if (existing.length) await fsyncPaths([...existing, ...new Set(existing.map((p) => dirname(p)))])
        return out
      } finally {
        done()
      }
    }
    const temps: Array<string | undefined> = await Promise.all(
      items.map((item, i) => this.#writeTemp(dirname(paths[i]!), item.key, item.bytes)),
    )
    const out: Array<'created' | 'exists'> = []
    try {
      for (const [i, path] of paths.entries()) {
        const tmp = temps[i]
        if (tmp === undefined) {
          out.push('exists')
          continue
        }
        try {
          await link(tmp, path)
          out.push('created')
        } catch (err) {
          if (errorCode(err) !== 'EEXIST') throw err
          if (!(await this.#isObject(path, items[i]!.key))) throw conflict(items[i]!.key)
          out.push('exists')
        }
      }
    } finally {
      await Promise.all(temps.map((tmp) => (tmp === undefined ? Promise.resolve() : unlinkQuietly(tmp))))
    }
    // Also where every item existed: the writer that linked them may not have made the names durable yet.
    await Promise.all(dirs.map((dir) => fsyncDir(dir)))
    return out
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.#path(key)
    const dir = dirname(path)
    const journal = this.#journalFor(bytes)
    await this.#ensureDir(dir, key)
    if (journal) {
      this.#isObjectSync(path, key) // refuses a directory of other keys before anything is recorded
      const done = await journal.append([{ op: 'put', key, bytes }])
      try {
        await this.#link([{ op: 'replace', key, path, bytes }])
      } finally {
        done()
      }
      return
    }
    const tmp = await this.#writeTemp(dir, key, bytes)
    try {
      await rename(tmp, path)
    } catch (err) {
      await unlinkQuietly(tmp)
      const code = errorCode(err)
      throw code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST' ? conflict(key, err) : err
    }
    await fsyncDir(dir)
  }

  /** With the journal: every record in one flush, then the renames, `last` after the rest. */
  async putAllThen(items: readonly ObjectToPut[], last: ObjectToPut): Promise<void> {
    const all = [...items, last]
    const journal = this.#journalFor(...all.map((i) => i.bytes))
    if (!journal) return putAllThenEach(this, items, last)
    const paths = all.map((i) => this.#path(i.key))
    for (const [i, path] of paths.entries()) {
      await this.#ensureDir(dirname(path), all[i]!.key)
      this.#isObjectSync(path, all[i]!.key) // refuses a directory of other keys before anything is recorded
    }
    const done = await journal.append(all.map((i) => ({ op: 'put', key: i.key, bytes: i.bytes })))
    try {
      await this.#link(all.map((item, i) => ({ op: 'replace', key: item.key, path: paths[i]!, bytes: item.bytes })))
    } finally {
      done()
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const path = this.#path(key)
    void this.journal
    try {
      return ownBytes(await readFile(path))
    } catch (err) {
      if (isAbsent(err)) return undefined
      throw err
    }
  }

  /**
   * Many small objects (a rebuild reads every receipt): read synchronously, one syscall sequence each
   * with no thread-pool round trips — measured here at ~15 µs of CPU per 800-byte object against
   * ~150 µs through fs.promises. It blocks the event loop for the batch, so callers keep batches to a
   * few hundred keys.
   */
  async getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    void this.journal
    return keys.map((key) => {
      try {
        return ownBytes(readFileSync(this.#path(key)))
      } catch (err) {
        if (isAbsent(err)) return undefined
        throw err
      }
    })
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<string[]> {
    const { dir, namePrefix } = parseListPrefix(prefix)
    const limit = options.limit ?? 1000
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`invalid list limit ${limit}`)
    const startAfter = options.startAfter
    void this.journal
    const out: string[] = []
    if (limit === 0) return out

    // Depth-first walk in byte order. Within a directory, entries sort by their name, plus a trailing
    // '/' for directories: every key under directory `x` starts with `x/`, so this puts `x-1` and `x.json`
    // (0x2d, 0x2e < '/') before the keys under `x/`, and the walk yields keys in global byte order.
    const walk = async (dirKey: string, absDir: string, onlyPrefix: string): Promise<boolean> => {
      const entries = await this.#listings.read(absDir)
      for (let i = firstCandidate(entries, dirKey, onlyPrefix, startAfter); i < entries.length; i++) {
        const entry = entries[i]!
        // Names with the prefix are contiguous in sorted order: the first one without it ends them.
        if (!entry.name.startsWith(onlyPrefix)) break
        const full = dirKey + entry.sortKey
        if (entry.isDir) {
          // Skip a subtree whose keys all sort at or before startAfter.
          if (startAfter !== undefined && full <= startAfter && !startAfter.startsWith(full)) continue
          if (await walk(full, join(absDir, entry.name), '')) return true
        } else {
          if (startAfter !== undefined && full <= startAfter) continue
          out.push(full)
          if (out.length >= limit) return true
        }
      }
      return false
    }

    const dirKey = dir === '' ? '' : `${dir}/`
    await walk(dirKey, dir === '' ? this.root : join(this.root, ...dir.split('/')), namePrefix)
    return out
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key)
    const journal = this.journal
    if (journal) {
      const s = lstatSync(path, { throwIfNoEntry: false })
      if (!s || s.isDirectory()) return // nothing there, or a directory of other keys: no object to delete
      const done = await journal.append([{ op: 'delete', key, bytes: new Uint8Array(0) }])
      try {
        unlinkQuietlySync(path)
      } finally {
        done()
      }
      return
    }
    try {
      await unlink(path)
    } catch (err) {
      const code = errorCode(err)
      // EISDIR (Linux) / EPERM (macOS): the name is a directory of other keys, so no object is there.
      if (isAbsent(err) || code === 'EISDIR' || code === 'EPERM') return
      throw err
    }
    await fsyncDir(dirname(path))
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true })
    await access(this.root, constants.R_OK | constants.W_OK)
  }

  async close(): Promise<void> {
    this.#listings.clear()
    this.#dirs.clear()
    await this.#linker.close()
    const journal = this.#journalOpened
    this.#journalOpened = undefined
    await journal?.close()
  }

  #path(key: string): string {
    assertObjectKey(key)
    return join(this.root, ...key.split('/'))
  }

  /** True if `path` is an object; throws if it is a directory of other keys. */
  async #isObject(path: string, key: string): Promise<boolean> {
    try {
      const s = await lstat(path)
      if (s.isDirectory()) throw conflict(key)
      return true
    } catch (err) {
      if (isAbsent(err)) return false
      throw err
    }
  }

  /** #isObject without a thread-pool round trip (the journaled path: one lstat in the page cache). */
  #isObjectSync(path: string, key: string): boolean {
    let s
    try {
      s = lstatSync(path, { throwIfNoEntry: false })
    } catch (err) {
      if (isAbsent(err)) return false
      throw err
    }
    if (s?.isDirectory()) throw conflict(key)
    return s !== undefined
  }

  /**
   * Makes journaled objects visible once their records are durable, in order (the linker: a worker
   * thread where there are cores to spare). A directory removed behind the store's back is made again,
   * once, and the rest go on from there.
   */
  async #link(items: ReadonlyArray<LinkOp & { key: string }>): Promise<LinkOutcome[]> {
    const out: LinkOutcome[] = []
    const remade = new Set<string>()
    let rest = items
    while (rest.length > 0) {
      const { outcomes, failure } = await this.#linker.apply(rest.map(({ op, path, bytes }) => ({ op, path, bytes })))
      out.push(...outcomes)
      if (!failure) break
      const failed = rest[outcomes.length]!
      const dir = dirname(failed.path)
      if (failure.code !== 'ENOENT' || remade.has(dir) || !this.#dirs.forget(dir)) {
        throw Object.assign(new Error(failure.message), failure.code ? { code: failure.code } : {})
      }
      remade.add(dir)
      await this.#ensureDir(dir, failed.key)
      rest = rest.slice(outcomes.length)
    }
    const clash = out.findIndex((o) => o === 'conflict')
    if (clash >= 0) throw conflict(items[clash]!.key)
    return out
  }

  /**
   * A durable temp file in `dir`. A directory removed behind the store's back (it is in #dirs but gone)
   * is made again, once.
   */
  async #writeTemp(dir: string, key: string, bytes: Uint8Array): Promise<string> {
    try {
      return await writeTemp(dir, bytes)
    } catch (err) {
      if (errorCode(err) !== 'ENOENT' || !this.#dirs.forget(dir)) throw err
      await this.#ensureDir(dir, key)
      return writeTemp(dir, bytes)
    }
  }

  /**
   * mkdir -p, then fsync the parents of every directory it created so the new names survive a crash.
   * Remembered once done: a directory this store made durable stays (the store never removes one).
   */
  async #ensureDir(dir: string, key: string): Promise<void> {
    if (this.#dirs.has(dir)) return
    await this.#makeDir(dir, key)
    this.#dirs.add(dir)
  }

  async #makeDir(dir: string, key: string): Promise<void> {
    let first: string | undefined
    try {
      first = await mkdir(dir, { recursive: true })
    } catch (err) {
      const code = errorCode(err)
      if (code === 'ENOTDIR' || code === 'EEXIST') throw conflict(key, err)
      throw err
    }
    if (first === undefined) return
    const created: string[] = []
    for (let d = dir; d !== dirname(first); d = dirname(d)) created.push(d)
    await fsyncDir(dirname(first))
    await Promise.all(created.map((d) => fsyncDir(d)))
  }
}

// ---------------------------------------------------------------------------------------------------

/**
 * Index of the first entry of a sorted directory listing that can hold keys for this page: the first
 * whose name starts with `namePrefix` and that is not entirely at or before `startAfter`. Binary
 * search, so paging through a directory of 100k keys does not rescan it from the top each time.
 */
function firstCandidate(entries: Entry[], dirKey: string, namePrefix: string, startAfter: string | undefined): number {
  const from = lowerBound(entries, (e) => e.sortKey >= namePrefix)
  if (startAfter === undefined) return from
  if (!startAfter.startsWith(dirKey)) {
    // Every key here starts with dirKey, so they all sort on one side of startAfter.
    return startAfter < dirKey ? from : entries.length
  }
  const rel = startAfter.slice(dirKey.length)
  const after = lowerBound(entries, (e) => e.sortKey > rel)
  // The directory entry whose keys startAfter falls among (`x/` for `x/abc`) sorts before `rel`.
  const containing = after > 0 && entries[after - 1]!.isDir && rel.startsWith(entries[after - 1]!.sortKey)
  return Math.max(from, containing ? after - 1 : after)
}

/** The first index where `pred` holds, for a predicate that is false then true along `entries`. */
function lowerBound(entries: Entry[], pred: (e: Entry) => boolean): number {
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (pred(entries[mid]!)) hi = mid
    else lo = mid + 1
  }
  return lo
}

interface Entry {
  name: string
  isDir: boolean
  /** `name` for a file, `name/` for a directory: the prefix shared by every key under the entry. */
  sortKey: string
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/

/**
 * Sorted directory listings. Sorting a directory of 100k events costs tens of milliseconds, which
 * paging 1000 keys at a time would pay 100 times; so listings of large directories are kept and
 * reused while the directory's mtime is unchanged.
 *
 * Why mtime is safe here: a listing is only cached if the directory's mtime, read before `readdir`,
 * was already more than QUIET_MS old. Any later create/unlink/rename in it stamps a current time, which
 * differs from that old mtime even on filesystems with coarse (jiffy or whole-second) timestamps. A
 * directory being appended to right now is never cached and is re-read on every page.
 */
class ListingCache {
  static readonly MIN_ENTRIES = 512
  static readonly MAX_TOTAL_ENTRIES = 400_000
  static readonly QUIET_MS = 2_000

  readonly #cache = new Map<string, { mtimeNs: bigint; ino: bigint; entries: Entry[] }>()
  #total = 0

  async read(absDir: string): Promise<Entry[]> {
    let s
    try {
      s = await stat(absDir, { bigint: true })
    } catch (err) {
      if (isAbsent(err)) return []
      throw err
    }
    if (!s.isDirectory()) return []
    const hit = this.#cache.get(absDir)
    if (hit && hit.mtimeNs === s.mtimeNs && hit.ino === s.ino) {
      this.#cache.delete(absDir) // refresh LRU position
      this.#cache.set(absDir, hit)
      return hit.entries
    }
    if (hit) this.#evict(absDir)

    let dirents: Dirent[]
    try {
      dirents = await readdir(absDir, { withFileTypes: true })
    } catch (err) {
      if (isAbsent(err)) return []
      throw err
    }
    const entries: Entry[] = []
    for (const d of dirents) {
      // Temp files (`.tmp-…`) and anything else that is not a key segment are invisible.
      if (!SEGMENT.test(d.name)) continue
      if (d.isDirectory()) entries.push({ name: d.name, isDir: true, sortKey: `${d.name}/` })
      else if (d.isFile()) entries.push({ name: d.name, isDir: false, sortKey: d.name })
    }
    // Keys are ASCII, so UTF-16 code unit order (`<`) is byte order. Never localeCompare.
    entries.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0))

    const quiet = Date.now() - Number(s.mtimeMs) > ListingCache.QUIET_MS
    if (quiet && entries.length >= ListingCache.MIN_ENTRIES && entries.length <= ListingCache.MAX_TOTAL_ENTRIES) {
      this.#cache.set(absDir, { mtimeNs: s.mtimeNs, ino: s.ino, entries })
      this.#total += entries.length
      for (const oldest of this.#cache.keys()) {
        if (this.#total <= ListingCache.MAX_TOTAL_ENTRIES) break
        this.#evict(oldest)
      }
    }
    return entries
  }

  clear(): void {
    this.#cache.clear()
    this.#total = 0
  }

  #evict(absDir: string): void {
    const hit = this.#cache.get(absDir)
    if (!hit) return
    this.#cache.delete(absDir)
    this.#total -= hit.entries.length
  }
}

/**
 * A plain Uint8Array like the S3 store returns: a view when the Buffer owns its memory (readFile
 * allocates exactly), a copy if it is a slice of Node's shared pool.
 */
function ownBytes(buf: Buffer): Uint8Array {
  return buf.byteOffset === 0 && buf.buffer.byteLength === buf.byteLength
    ? new Uint8Array(buf.buffer, 0, buf.byteLength)
    : new Uint8Array(buf)
}

/**
 * Directories known to exist and to be durable, at most `capacity` (the oldest forgotten first: a
 * forgotten one only costs a mkdir again).
 */
class KnownDirs {
  readonly #dirs = new Set<string>()
  constructor(private readonly capacity = 65_536) {}
  has(dir: string): boolean {
    return this.#dirs.has(dir)
  }
  add(dir: string): void {
    this.#dirs.add(dir)
    if (this.#dirs.size > this.capacity) this.#dirs.delete(this.#dirs.values().next().value!)
  }
  /** True if it was known. */
  forget(dir: string): boolean {
    return this.#dirs.delete(dir)
  }
  clear(): void {
    this.#dirs.clear()
  }
}

// Plain fds through the callback API, not fs.promises FileHandles: a FileHandle is an object with its
// own close tracking, and these run for every receipt (measured: the object writes were the relay's
// largest item of main-thread time under 1,000 one-receipt appends a second).
const openAsync = promisify(openFd)
const writeAsync = promisify(write)
const fsyncAsync = promisify(fsync)
const closeAsync = promisify(close)

async function writeFully(fd: number, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += (await writeAsync(fd, bytes, offset, bytes.length - offset)).bytesWritten
  }
}

async function writeTemp(dir: string, bytes: Uint8Array): Promise<string> {
  const tmp = tempPath(dir)
  const fd = await openAsync(tmp, 'wx', 0o644)
  try {
    await writeFully(fd, bytes)
    await fsyncAsync(fd)
  } catch (err) {
    await closeAsync(fd).catch(() => {})
    await unlinkQuietly(tmp)
    throw err
  }
  await closeAsync(fd)
  return tmp
}

/** fsyncs files and directories alike (an fd opened read-only can be fsync'd on Linux and macOS). */
async function fsyncPaths(paths: readonly string[]): Promise<void> {
  await Promise.all(paths.map((p) => fsyncDir(p)))
}

async function fsyncDir(dir: string): Promise<void> {
  const fd = await openAsync(dir, 'r')
  try {
    await fsyncAsync(fd)
  } finally {
    await closeAsync(fd)
  }
}

async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err
  }
}

/** ENOENT, or ENOTDIR/EISDIR where a path component is the wrong kind of entry: no object there. */
function isAbsent(err: unknown): boolean {
  const code = errorCode(err)
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR'
}

function conflict(key: string, cause?: unknown): Error {
  return new Error(
    `object key ${JSON.stringify(key)} collides with another key used as a directory (or the reverse); ` +
      'the filesystem store cannot hold both `a` and `a/b`',
    { cause },
  )
}
