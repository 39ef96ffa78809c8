import { appendFile, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
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
