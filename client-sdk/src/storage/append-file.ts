/**
 * Node plumbing for FileLocalLog: an append-only file of newline-terminated JSON lines, with crash
 * recovery (a torn tail is cut off) and all-or-nothing appends (one write + fdatasync; rolled back on
 * failure). Kept apart from the log so the three files the log keeps share one careful implementation.
 */
import { open, type FileHandle } from 'node:fs/promises'

/** One line of a file: where it starts, its bytes without the newline, and whether it had one. */
export interface Line {
  offset: number
  bytes: Buffer
  terminated: boolean
}

/** What a recovery visitor says of a parsed line: it ends a group, it is inside one, or it is not ours. */
export type LineVerdict = 'commit' | 'pending' | 'invalid'

/** A local log file that cannot be trusted as is: damaged before its last write, not just torn. */
export class LocalLogCorruptError extends Error {
  override name = 'LocalLogCorruptError'
  readonly code = 'LOCAL_LOG_CORRUPT'
  constructor(
    readonly path: string,
    readonly offset: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: ${message} (at byte ${offset})`, options)
  }
}

/** An append-only line file, opened for appends and positioned reads. */
export class AppendFile {
  #fh: FileHandle
  #size: number
  #failed: unknown

  private constructor(
    readonly path: string,
    fh: FileHandle,
    size: number,
  ) {
    this.#fh = fh
    this.#size = size
  }

  /** Opens (creating with `mode`) a file for appending; `size` is its current length. */
  static async open(path: string, mode = 0o600): Promise<AppendFile> {
    // 'a+': O_APPEND writes always land at the end; positioned reads still work on the same handle.
    const fh = await open(path, 'a+', mode)
    try {
      return new AppendFile(path, fh, (await fh.stat()).size)
    } catch (error) {
      await fh.close()
      throw error
    }
  }

  /** Bytes in the file that are committed (everything a reader may look at). */
  get size(): number {
    return this.#size
  }

  /**
   * Replays the file line by line and cuts off a torn tail. `visit` gets each terminated, parseable
   * line in order and answers `commit` (a complete group ends here), `pending` (more lines of its group
   * must follow) or `invalid` (not a record). The file is truncated right after the last committed line
   * when what follows is a partial line, unparseable or invalid lines, or an unfinished group — the
   * marks a crash mid-append leaves. A damaged line followed by a valid one (`isRecord`) is not a torn
   * tail but corruption: that throws LocalLogCorruptError and changes nothing. Returns the bytes cut.
   * `from` (a line boundary) skips a prefix already known to be whole (FileLocalLog's stored index).
   */
  async recover(visit: (value: unknown, line: Line) => LineVerdict, isRecord: (value: unknown) => boolean, from = 0): Promise<number> {
    let committed = from
    let damagedAt: number | undefined
    for await (const line of this.lines(from, this.#size)) {
      const value = line.terminated ? parseLine(line.bytes) : undefined
      if (damagedAt !== undefined) {
        if (value !== undefined && isRecord(value)) {
          throw new LocalLogCorruptError(this.path, damagedAt, `a damaged line is followed by valid ones at byte ${line.offset}`)
        }
        continue
      }
      const verdict = value === undefined ? 'invalid' : visit(value, line)
      if (verdict === 'invalid') damagedAt = line.offset
      else if (verdict === 'commit') committed = line.offset + line.bytes.length + 1
    }
    const cut = this.#size - committed
    if (cut > 0) {
      await this.#fh.truncate(committed)
      await this.#fh.datasync()
      this.#size = committed
    }
    return cut
  }

  /**
   * Appends `data` (whole lines) with one write and one fdatasync, and returns the offset it starts at.
   * On failure the file is truncated back, so a failed append leaves nothing; if even that is uncertain
   * (fdatasync or truncate failed: the kernel may have dropped dirty pages), every later append throws.
   */
  async append(data: Buffer): Promise<number> {
    if (this.#failed !== undefined) {
      throw new Error(`${this.path}: an earlier write failed and could not be rolled back; reopen the log`, { cause: this.#failed })
    }
    const start = this.#size
    let stage = 'write'
    try {
      for (let done = 0; done < data.length;) {
        const { bytesWritten } = await this.#fh.write(data, done, data.length - done)
        done += bytesWritten
      }
      stage = 'sync'
      // fdatasync covers the data and the new length (what reading it back needs), which is all an append changes.
      await this.#fh.datasync()
    } catch (error) {
      try {
        await this.#fh.truncate(start)
        if (stage === 'sync') this.#failed = error
      } catch {
        this.#failed = error
      }
      throw error
    }
    this.#size = start + data.length
    return start
  }

  /** Reads `length` bytes at `position` (within the committed size). */
  async readAt(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await this.#fh.read(buffer, done, length - done, position + done)
      if (bytesRead === 0) throw new Error(`${this.path}: unexpected end of file at ${position + done}`)
      done += bytesRead
    }
    return buffer
  }

  /** The lines in [start, end), read in chunks of `chunkSize`; the last one may be unterminated. */
  async *lines(start: number, end: number, chunkSize = 1 << 20): AsyncGenerator<Line> {
    let position = start
    let carry: Buffer | undefined
    let carryOffset = start
    while (position < end) {
      const want = Math.min(chunkSize, end - position)
      const chunk = Buffer.allocUnsafe(want)
      const { bytesRead } = await this.#fh.read(chunk, 0, want, position)
      if (bytesRead === 0) break
      const base = carry ? carryOffset : position
      const data = carry ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead)
      position += bytesRead
      let lineStart = 0
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, lineStart)) {
        yield { offset: base + lineStart, bytes: data.subarray(lineStart, nl), terminated: true }
        lineStart = nl + 1
      }
      carry = lineStart < data.length ? data.subarray(lineStart) : undefined
      carryOffset = base + lineStart
    }
    if (carry) yield { offset: carryOffset, bytes: carry, terminated: false }
  }

  async close(): Promise<void> {
    await this.#fh.close()
  }
}

/** JSON.parse of a line, or undefined if it is not JSON. */
export function parseLine(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown
  } catch {
    return undefined
  }
}

/** fsyncs a directory so that files created or renamed in it survive a crash (a no-op where unsupported). */
export async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined
  try {
    fh = await open(dir, 'r')
    await fh.sync()
  } catch (error) {
    // Windows cannot open or fsync a directory; its metadata journaling covers the entry.
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw error
  } finally {
    await fh?.close()
  }
}
