import { appendFile, cp, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { LocalLog, LoggedReceipt } from '../src/index.js'
import { FileLocalLog, LocalLogCorruptError } from '../src/node.js'
import { buildChain, outboxEntry, quarantineEntry, runLocalLogContract } from '../src/testing.js'

runLocalLogContract('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pixpax-local-log-'))
  return {
    log: await FileLocalLog.open(dir),
    reopen: () => FileLocalLog.open(dir),
    done: () => rm(dir, { recursive: true, force: true }),
  }
})

async function collect(log: LocalLog): Promise<LoggedReceipt[]> {
  const out: LoggedReceipt[] = []
  for await (const entry of log.scan()) out.push(entry)
  return out
}

describe('FileLocalLog specifics', () => {
  let dir: string
  let log: FileLocalLog
  let chain: LoggedReceipt[]
  const receipts = (): string => join(dir, 'receipts.ndjson')

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixpax-local-log-'))
    log = await FileLocalLog.open(dir)
    chain = await buildChain({ count: 8, bookId: 'torn' })
  })
  afterEach(async () => {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  })

  /**
   * Closes, lets `damage` change the file, reopens; the file must be cut back to `expected` (default: what
   * it was before the damage), the log must hold exactly the first `kept` receipts and take the rest.
   */
  async function reopenAfter(damage: () => Promise<void>, kept: number, expected?: string): Promise<void> {
    await log.close()
    const before = await readFile(receipts(), 'utf8')
    await damage()
    expect(await readFile(receipts(), 'utf8')).not.toBe(expected ?? before)
    log = await FileLocalLog.open(dir)
    expect(await readFile(receipts(), 'utf8')).toBe(expected ?? before)
    expect(await log.read(chain[0]!.streamKey)).toEqual(chain.slice(0, kept))
    expect(await collect(log)).toEqual(chain.slice(0, kept))
    await log.append(chain.slice(kept))
    expect(await log.read(chain[0]!.streamKey)).toEqual(chain)
    await log.close()
    log = await FileLocalLog.open(dir)
    expect(await collect(log)).toEqual(chain)
  }

  it('writes one JSON line per receipt, with a batch header before a multi-receipt append', async () => {
    await log.append(chain.slice(0, 1))
    await log.append(chain.slice(1, 4))
    const lines = (await readFile(receipts(), 'utf8')).split('\n')
    expect(lines.at(-1)).toBe('')
    expect(lines.slice(0, -1).map((line) => JSON.parse(line) as unknown)).toEqual([chain[0], { batch: 3 }, ...chain.slice(1, 4)])
    expect((await stat(receipts())).mode & 0o777).toBe(0o600)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
  })

  it('cuts a torn last line (no newline) and keeps everything before it', async () => {
    await log.append(chain.slice(0, 3))
    await log.append(chain.slice(3, 4))
    await reopenAfter(() => appendFile(receipts(), JSON.stringify(chain[4]).slice(0, 200)), 4)
  })

  it('cuts a complete-looking but unparseable last line', async () => {
    await log.append(chain.slice(0, 2))
    await reopenAfter(() => appendFile(receipts(), '{"streamKey":"pixbook/acc-1/torn","seq":3,"rec\n'), 2)
  })

  it('cuts a garbage tail (zero bytes, several lines of noise)', async () => {
    await log.append(chain.slice(0, 5))
    await reopenAfter(() => appendFile(receipts(), Buffer.concat([Buffer.alloc(100), Buffer.from('\nnoise\n\n{{{\n'), Buffer.alloc(7)])), 5)
  })

  it('cuts an append torn inside its batch whole: all or nothing, after a crash too', async () => {
    await log.append(chain.slice(0, 2))
    await log.append(chain.slice(2, 6)) // header + 4 lines
    // keep the header and two full lines of the last batch, as a crash mid-write could
    const text = await readFile(receipts(), 'utf8')
    const lines = text.split('\n')
    const keep = lines.slice(0, 3 + 1 + 2).join('\n') + '\n' // first batch (header + 2), header, 2 of 4
    await reopenAfter(() => writeFile(receipts(), keep), 2, lines.slice(0, 3).join('\n') + '\n')
  })

  it('cuts a batch whose last line lost only its newline', async () => {
    await log.append(chain.slice(0, 1))
    await log.append(chain.slice(1, 3))
    const firstLine = JSON.stringify(chain[0]) + '\n'
    await reopenAfter(async () => truncate(receipts(), (await stat(receipts())).size - 1), 1, firstLine)
  })

  it('refuses to open a file damaged before its tail, and changes nothing', async () => {
    await log.append(chain.slice(0, 1))
    await log.append(chain.slice(1, 2))
    await log.append(chain.slice(2, 3))
    await log.close()
    const lines = (await readFile(receipts(), 'utf8')).split('\n')
    lines[1] = lines[1]!.slice(0, 50) // a damaged line in the middle
    const damaged = lines.join('\n')
    await writeFile(receipts(), damaged)
    await expect(FileLocalLog.open(dir)).rejects.toThrow(LocalLogCorruptError)
    expect(await readFile(receipts(), 'utf8')).toBe(damaged)
    // a stored line that does not chain is corruption too
    await writeFile(receipts(), [JSON.stringify(chain[0]), JSON.stringify(chain[2]), ''].join('\n'))
    await expect(FileLocalLog.open(dir)).rejects.toThrow(/does not chain/)
    await writeFile(receipts(), '')
    log = await FileLocalLog.open(dir)
  })

  it('recovers the outbox journal and quarantine from a torn tail, and compacts the journal', async () => {
    await log.close()
    log = await FileLocalLog.open(dir, { outboxCompactLines: 20 })
    const entries = chain.map((e, i) => outboxEntry(e.receipt, { createdAt: i }))
    for (const entry of entries) await log.putOutbox(entry)
    for (let round = 0; round < 5; round++) {
      for (const entry of entries.slice(0, 6)) await log.putOutbox({ ...entry, attempts: round + 1, state: 'sent' })
    }
    for (const entry of entries.slice(0, 4)) await log.deleteOutbox(entry.id)
    const expected = [...entries.slice(4, 6).map((e) => ({ ...e, attempts: 5, state: 'sent' })), ...entries.slice(6)]
    expect(await log.listOutbox()).toEqual(expected)
    const journal = (await readFile(join(dir, 'outbox.jsonl'), 'utf8')).trim().split('\n')
    expect(journal.length).toBeLessThan(8 + 30 + 4) // compacted along the way
    await log.addQuarantine(quarantineEntry({ id: 'q1' }))
    await log.close()
    await appendFile(join(dir, 'outbox.jsonl'), '{"put":{"id":"half')
    await appendFile(join(dir, 'quarantine.ndjson'), '{"id":"q2","raw":"')
    log = await FileLocalLog.open(dir)
    expect(await log.listOutbox()).toEqual(expected)
    expect((await log.listQuarantine()).map((q) => q.id)).toEqual(['q1'])
    await log.deleteOutbox(expected[0]!.id)
    await log.addQuarantine(quarantineEntry({ id: 'q3' }))
    await log.close()
    log = await FileLocalLog.open(dir)
    expect(await log.listOutbox()).toEqual(expected.slice(1))
    expect((await log.listQuarantine()).map((q) => q.id)).toEqual(['q1', 'q3'])
  })
})

describe('FileLocalLog stored index (index.json)', () => {
  let dir: string
  let log: FileLocalLog | undefined
  let a: LoggedReceipt[]
  let b: LoggedReceipt[]
  const key = (): string => a[0]!.streamKey
  const receipts = (): string => join(dir, 'receipts.ndjson')

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixpax-local-log-index-'))
    ;[a, b] = await Promise.all([buildChain({ count: 40, bookId: 'idx-a' }), buildChain({ count: 5, bookId: 'idx-b' })])
    log = await FileLocalLog.open(dir)
    await log.append(a.slice(0, 30))
    await log.append([b[0]!, ...b.slice(1, 3)])
    for (const entry of a.slice(30, 35)) await log.append([entry]) // single lines last: a truncation can cut one whole
    await log.close()
    log = undefined
  })
  afterEach(async () => {
    await log?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('reopens from the index without replaying, and after a crash replays only the lines appended since', async () => {
    log = await FileLocalLog.open(dir)
    expect(log.opened).toEqual({ fromIndex: true, replayedBytes: 0 })
    expect(await log.read(key())).toEqual(a.slice(0, 35))
    expect(await log.head(b[0]!.streamKey)).toEqual(b[2])
    expect(await collect(log)).toEqual([...a.slice(0, 30), ...b.slice(0, 3), ...a.slice(30, 35)])
    await expectRejectCode(log.append([a[36]!]), 'CHAIN_BROKEN') // the indexed heads are enforced
    await log.append([a[35]!, b[3]!])
    // A crash: the files as they are now, without the close that rewrites the index.
    const crashed = `${dir}-crashed`
    await cp(dir, crashed, { recursive: true })
    try {
      const after = await FileLocalLog.open(crashed)
      expect(after.opened.fromIndex).toBe(true)
      expect(after.opened.replayedBytes).toBeGreaterThan(0)
      expect(await after.read(key())).toEqual(a.slice(0, 36))
      expect(await after.read(b[0]!.streamKey)).toEqual(b.slice(0, 4))
      await after.append(a.slice(36))
      await after.close()
    } finally {
      await rm(crashed, { recursive: true, force: true })
    }
  })

  it('replays the whole file when it was truncated below the index', async () => {
    const text = await readFile(receipts(), 'utf8')
    const lastLine = text.slice(text.lastIndexOf('\n', text.length - 2) + 1)
    await truncate(receipts(), Buffer.byteLength(text) - Buffer.byteLength(lastLine))
    log = await FileLocalLog.open(dir)
    expect(log.opened).toEqual({ fromIndex: false, replayedBytes: Buffer.byteLength(text) - Buffer.byteLength(lastLine) })
    expect(await log.head(key())).toEqual(a[33])
    expect(await log.read(key())).toEqual(a.slice(0, 34))
  })

  it('replays the whole file when its last line was rewritten, as if there were no index', async () => {
    const text = await readFile(receipts(), 'utf8')
    const at = text.lastIndexOf('"signature":"ecdsa-p256:') + 30
    const flipped = text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1)
    await writeFile(receipts(), flipped)
    log = await FileLocalLog.open(dir)
    expect(log.opened.fromIndex).toBe(false)
    // What a replay finds (the edit keeps the chain: only `pixpax verify` sees a bad signature).
    expect((await log.head(key()))!.receipt.signature).not.toBe(a[34]!.receipt.signature)
    expect((await log.read(key(), 34, 1))[0]!.receipt.signature).toBe((await log.head(key()))!.receipt.signature)
  })

  it('replays the whole file when the index is damaged or belongs to another log', async () => {
    await writeFile(join(dir, 'index.json'), '{"v":1,"size":12,"lines":')
    log = await FileLocalLog.open(dir)
    expect(log.opened.fromIndex).toBe(false)
    expect(await log.read(key())).toEqual(a.slice(0, 35))
    await log.close()
    // Another log's index (its last line is not where this file has one).
    const other = await mkdtemp(join(tmpdir(), 'pixpax-local-log-index-'))
    try {
      const small = await FileLocalLog.open(other)
      await small.append(await buildChain({ count: 20, bookId: 'idx-c' }))
      await small.close()
      await cp(join(other, 'index.json'), join(dir, 'index.json'))
      log = await FileLocalLog.open(dir)
      expect(log.opened.fromIndex).toBe(false)
      expect(await log.read(key())).toEqual(a.slice(0, 35))
    } finally {
      await rm(other, { recursive: true, force: true })
    }
  })
})

async function expectRejectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect((error as { code?: string } | undefined)?.code).toBe(code)
}
