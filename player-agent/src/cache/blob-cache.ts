/**
 * The verified art cache: blobs by SHA-256 under `dir`, each file named by its hex digest and written
 * only after its bytes hashed to that digest (temp file + fsync + rename + directory fsync), so a file
 * present under a name is the blob with that hash, even after a kill -9 mid-download. Reads re-check the
 * hash anyway (a disk can rot; a person can edit files): a mismatch deletes the file and reports it.
 *
 * Eviction is LRU by last use (the file's mtime, touched on every read, so the order survives a
 * restart) under a byte budget; the hashes of the current playlist are pinned and never evicted.
 */
import { createHash } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { removeTempFiles, syncDirectory, tempPathFor } from '../fs/atomic-write.js'

const HEX = /^[0-9a-f]{64}$/

export class BlobHashMismatchError extends Error {
  override name = 'BlobHashMismatchError'
  readonly code = 'HASH_MISMATCH'
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`blob content hashes to ${actual}, not ${expected}: refused`)
  }
}

export type DownloadProgress = (received: number, total: number | undefined) => void

interface Entry {
  size: number
  lastUsed: number
}

export function hexOf(hash: string): string {
  const hex = hash.startsWith('sha256:') ? hash.slice(7) : hash
  if (!HEX.test(hex)) throw new TypeError(`${JSON.stringify(hash)} is not a sha256:<64 hex> reference`)
  return hex
}

export class BlobCache {
  private readonly entries = new Map<string, Entry>()
  private pinned = new Set<string>()
  private bytes = 0

  private constructor(
    readonly dir: string,
    readonly budgetBytes: number,
    private readonly now: () => number,
  ) {}

  /** Opens the cache: sweeps temp files a crash left, indexes what is there. */
  static async open(dir: string, budgetBytes: number, now: () => number = Date.now): Promise<BlobCache> {
    await mkdir(dir, { recursive: true })
    await removeTempFiles(dir)
    const cache = new BlobCache(dir, budgetBytes, now)
    for (const name of await readdir(dir)) {
      if (!HEX.test(name)) continue
      const s = await stat(join(dir, name))
      cache.entries.set(name, { size: s.size, lastUsed: s.mtimeMs })
      cache.bytes += s.size
    }
    return cache
  }

  get totalBytes(): number {
    return this.bytes
  }

  get size(): number {
    return this.entries.size
  }

  has(hash: string): boolean {
    return this.entries.has(hexOf(hash))
  }

  /** Hashes that eviction must keep (the current playlist). */
  pin(hashes: Iterable<string>): void {
    this.pinned = new Set([...hashes].map(hexOf))
  }

  /**
   * The blob's bytes if cached and still intact (marks it used); undefined if absent. A file whose
   * content no longer hashes to its name is deleted and BlobHashMismatchError thrown.
   */
  async get(hash: string): Promise<Uint8Array | undefined> {
    const hex = hexOf(hash)
    if (!this.entries.has(hex)) return undefined
    const path = join(this.dir, hex)
    let bytes: Buffer
    try {
      bytes = await readFile(path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      this.forget(hex)
      return undefined
    }
    const actual = createHash('sha256').update(bytes).digest('hex')
    if (actual !== hex) {
      await this.remove(hex)
      throw new BlobHashMismatchError(`sha256:${hex}`, `sha256:${actual}`)
    }
    const t = this.now()
    this.entries.get(hex)!.lastUsed = t
    await utimes(path, t / 1000, t / 1000).catch(() => undefined)
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  /**
   * Stores a blob from a stream of chunks, hashing as it writes; the file gets its name only if the
   * hash is `hash` (else BlobHashMismatchError, and nothing is kept). Then evicts down to the budget.
   */
  async putStream(hash: string, chunks: AsyncIterable<Uint8Array>, total?: number, progress?: DownloadProgress): Promise<number> {
    const hex = hexOf(hash)
    const path = join(this.dir, hex)
    const temp = tempPathFor(path)
    const hasher = createHash('sha256')
    let size = 0
    const fh = await open(temp, 'w', 0o644)
    let renamed = false
    try {
      for await (const chunk of chunks) {
        hasher.update(chunk)
        await fh.write(chunk)
        size += chunk.byteLength
        progress?.(size, total)
      }
      await fh.sync()
      await fh.close()
      const actual = hasher.digest('hex')
      if (actual !== hex) throw new BlobHashMismatchError(`sha256:${hex}`, `sha256:${actual}`)
      await rename(temp, path)
      renamed = true
      await syncDirectory(this.dir)
    } finally {
      await fh.close().catch(() => undefined)
      if (!renamed) await unlink(temp).catch(() => undefined)
    }
    const previous = this.entries.get(hex)
    if (previous) this.bytes -= previous.size
    const t = this.now()
    // The file's mtime is its last use, on the cache's clock, so the LRU order survives a restart.
    await utimes(path, t / 1000, t / 1000).catch(() => undefined)
    this.entries.set(hex, { size, lastUsed: t })
    this.bytes += size
    await this.evict()
    return size
  }

  /** Stores bytes already in memory (same checks as putStream). */
  put(hash: string, bytes: Uint8Array): Promise<number> {
    return this.putStream(
      hash,
      (async function* () {
        yield bytes
      })(),
      bytes.byteLength,
    )
  }

  /** Evicts least recently used, unpinned blobs until the cache fits its budget (pinned ones may exceed it). */
  async evict(): Promise<string[]> {
    const evicted: string[] = []
    if (this.bytes <= this.budgetBytes) return evicted
    const candidates = [...this.entries].filter(([hex]) => !this.pinned.has(hex)).sort((a, b) => a[1].lastUsed - b[1].lastUsed)
    for (const [hex] of candidates) {
      if (this.bytes <= this.budgetBytes) break
      await this.remove(hex)
      evicted.push(`sha256:${hex}`)
    }
    return evicted
  }

  private forget(hex: string): void {
    const entry = this.entries.get(hex)
    if (!entry) return
    this.bytes -= entry.size
    this.entries.delete(hex)
  }

  private async remove(hex: string): Promise<void> {
    this.forget(hex)
    await unlink(join(this.dir, hex)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error
    })
  }
}
