/**
 * The views journal (`PLAYER_DIR/views.journal`): every view is appended here, one JSON line each, the
 * moment it is recorded, so a view survives kill -9 and power loss between heartbeats. The ViewReporter
 * replays it at start and replaces it after each flush with the views no receipt carries yet.
 *
 * - **Append**: one write of the whole line, then fdatasync, so a view survives a power cut too (without
 *   fsync the page cache would lose up to ~30 s of them). It is cheap: a view comes at most every 5 s
 *   (MIN_VIEW_GAP_MS), so at most 12 fsyncs a minute, each ~0.4 ms of CPU and 2–3 ms of wall on the dev
 *   VM (scripts/measure-view-journal.ts, docs/player.md "Views"). The play loop never waits for it.
 * - **Replace**: temp file, fsync, rename, fsync the directory (atomic-write.ts): a crash leaves the old
 *   journal or the new one. The append handle is reopened after it (an old handle would write into the
 *   replaced file's orphaned inode).
 * - **Recovery** (`parseJournal`): a last line without its newline is a torn append and is dropped; a
 *   line in the middle that is not a view (disk damage) is skipped and counted, never fatal and never at
 *   the cost of the lines around it — losing one view beats a player that refuses to start. The reporter
 *   replaces the journal at start, so a torn tail is gone before the next append could run into it.
 *
 * Operations run one at a time, in call order.
 */
import { open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { DeviceViewSchema, type DeviceView } from '@pixpax/shared'
import { atomicWriteFile, TEMP_SUFFIX } from '../fs/atomic-write.js'

/** What a journal's bytes hold: its views in file order, and what recovery left out. */
export interface JournalContents {
  views: DeviceView[]
  /** Bytes of a torn last line (no newline), dropped. */
  tornBytes: number
  /** 1-based numbers of the terminated lines that were not views, skipped. */
  damagedLines: number[]
}

export function parseJournal(text: string): JournalContents {
  const lines = text.split('\n')
  const tail = lines.pop()!
  const views: DeviceView[] = []
  const damagedLines: number[] = []
  for (const [i, line] of lines.entries()) {
    const view = DeviceViewSchema.safeParse(parseJson(line))
    if (view.success) views.push(view.data)
    else damagedLines.push(i + 1)
  }
  return { views, tornBytes: Buffer.byteLength(tail), damagedLines }
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line) as unknown
  } catch {
    return undefined
  }
}

const lineOf = (view: DeviceView) => JSON.stringify(view) + '\n'

export class ViewJournal {
  #fh: FileHandle | undefined
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false

  private constructor(
    readonly path: string,
    /** What was in the journal at open (views not yet known to be in a receipt, and what was dropped). */
    readonly recovered: JournalContents,
  ) {}

  /** Reads the journal at `path` (none yet: empty) and sweeps the temp files a crashed replace left. */
  static async open(path: string): Promise<ViewJournal> {
    const dir = dirname(path)
    const prefix = `.${basename(path)}.`
    for (const name of await readdir(dir)) {
      if (name.startsWith(prefix) && name.endsWith(TEMP_SUFFIX)) await unlink(join(dir, name)).catch(() => undefined)
    }
    let text = ''
    try {
      text = await readFile(path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
    return new ViewJournal(path, parseJournal(text))
  }

  /** Appends one view; durable (fdatasync) when it resolves. */
  append(view: DeviceView): Promise<void> {
    return this.#run(async () => {
      const fh = (this.#fh ??= await open(this.path, 'a', 0o600))
      const start = (await fh.stat()).size
      try {
        await fh.appendFile(lineOf(view))
        await fh.datasync()
      } catch (error) {
        // A partial line (disk full) would swallow the next view appended after it: cut it off.
        await fh.truncate(start).catch(() => undefined)
        await this.#closeHandle().catch(() => undefined)
        throw error
      }
    })
  }

  /** Replaces the whole journal with `views`, atomically. */
  replace(views: readonly DeviceView[]): Promise<void> {
    const text = views.map(lineOf).join('')
    return this.#run(async () => {
      await this.#closeHandle()
      await atomicWriteFile(this.path, text)
    })
  }

  /** Resolves when every operation called so far has finished (each one's own promise says how). */
  async idle(): Promise<void> {
    await this.#queue
  }

  async close(): Promise<void> {
    await this.#run(() => this.#closeHandle())
    this.#closed = true
  }

  async #closeHandle(): Promise<void> {
    const fh = this.#fh
    this.#fh = undefined
    await fh?.close()
  }

  #run<T>(op: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`${this.path}: the views journal is closed`))
    const result = this.#queue.then(op)
    this.#queue = result.catch(() => undefined)
    return result
  }
}
