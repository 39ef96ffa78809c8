/**
 * The views journal and the reporter's replay, on real files, at every crash point: a torn last line is
 * dropped, a damaged line skipped without losing the lines around it; a view journaled and never flushed
 * is sent after a restart; a view whose batch reached the outbox before the journal was replaced is not
 * sent again; a replace cut short leaves a temp file that the next open sweeps.
 */
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DeviceView, Receipt } from '@pixpax/shared'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseJournal, ViewJournal } from '../src/views/view-journal.js'
import { ViewReporter } from '../src/views/view-reporter.js'

const art = 'sha256:' + 'ab'.repeat(32)
const item = { artwork: art, source: '01JZ0000000000000000000000', postId: '01JZ0000000000000000000000' }
const view = (viewedAt: string): DeviceView => ({ artwork: art, viewedAt })
const line = (v: DeviceView) => JSON.stringify(v) + '\n'

/** The sync client's outbox as the reporter sees it: appended receipts stay pending (durable). */
function fakeClient() {
  const pending: Array<{ streamKey: string; receipt: Receipt }> = []
  return {
    pending,
    client: {
      append: async (streamKey: unknown, type: string, payload: Record<string, unknown>) => {
        const receipt = { type, payload } as unknown as Receipt
        pending.push({ streamKey: String(streamKey), receipt })
        return receipt
      },
      pending: () => pending as never,
    },
    sent: () => pending.flatMap((e) => (e.receipt.payload as { views: DeviceView[] }).views.map((v) => v.viewedAt)),
  }
}

const noLog = { read: async () => [] }

describe('parseJournal', () => {
  it('drops a torn last line and keeps every whole line before it', () => {
    const a = view('2026-12-02T12:00:00.000Z')
    const b = view('2026-12-02T12:00:05.000Z')
    const torn = line(view('2026-12-02T12:00:10.000Z')).slice(0, 30)
    expect(parseJournal(line(a) + line(b) + torn)).toEqual({ views: [a, b], tornBytes: 30, damagedLines: [] })
    expect(parseJournal('')).toEqual({ views: [], tornBytes: 0, damagedLines: [] })
  })

  it('skips garbage and lines that are not views, keeping the views before and after them', () => {
    const a = view('2026-12-02T12:00:00.000Z')
    const b = view('2026-12-02T12:00:05.000Z')
    const text = line(a) + '\u0000\u0000garbage\n' + '{"artwork":"not a hash","viewedAt":"x"}\n' + '\n' + line(b)
    expect(parseJournal(text)).toEqual({ views: [a, b], tornBytes: 0, damagedLines: [2, 3, 4] })
  })
})

describe('ViewJournal with the ViewReporter', () => {
  let dir: string
  let path: string
  let now: number
  const clock = { now: () => now, synced: true }
  const reporter = async (client: ReturnType<typeof fakeClient>['client'], warnings: string[] = []) => {
    const r = new ViewReporter(client, 'dev-1', clock, { warn: (w) => warnings.push(w) })
    await r.open(noLog, await ViewJournal.open(path))
    return r
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixpax-journal-'))
    path = join(dir, 'views.journal')
    now = Date.parse('2026-12-02T12:00:00.000Z')
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('killed before a flush: the journaled views are sent after the restart, once', async () => {
    const { client, sent } = fakeClient()
    const first = await reporter(client)
    expect(first.record(item, 'relay:user:me')).toBe(true)
    now += 5_000
    expect(first.record(item, 'relay:user:me')).toBe(true)
    await first.journaled()
    // kill -9: the first reporter is dropped without a flush (its file handle closed, nothing else).
    await first.close()
    const second = await reporter(client)
    expect(second.queued).toBe(2)
    now += 1_000
    expect(second.record(item, undefined)).toBe(false) // the gap counts from the replayed views
    expect((await second.flush()).map((b) => b.length)).toEqual([2])
    expect(sent()).toEqual(['2026-12-02T12:00:00.000Z', '2026-12-02T12:00:05.000Z'])
    expect(await readFile(path, 'utf8')).toBe('') // replaced once the batch was in the outbox
    await second.close()
    const third = await reporter(client)
    expect(third.queued).toBe(0)
    await third.close()
  })

  it('killed after the batch reached the outbox, before the journal was replaced: nothing is sent twice', async () => {
    const { client, sent } = fakeClient()
    const first = await reporter(client)
    first.record(item, undefined)
    now += 5_000
    first.record(item, undefined)
    await first.journaled()
    const beforeFlush = await readFile(path)
    await first.flush()
    await first.close()
    // The crash point: the receipt is durable in the outbox, the journal still holds its views.
    await writeFile(path, beforeFlush)
    now += 5_000
    const second = await reporter(client)
    expect(second.queued).toBe(0)
    expect(second.record(item, undefined)).toBe(true) // 5 s after the last sent view: a new one
    await second.flush()
    await second.close()
    expect(sent()).toEqual(['2026-12-02T12:00:00.000Z', '2026-12-02T12:00:05.000Z', '2026-12-02T12:00:10.000Z'])
  })

  it('a batch of a flush cut short (the second of two) is rebuilt from the journal, the first is not', async () => {
    const { client, pending, sent } = fakeClient()
    const first = await reporter(client)
    for (let i = 0; i < 201; i++, now += 5_000) first.record(item, undefined)
    await first.journaled()
    const beforeFlush = await readFile(path)
    await first.flush()
    await first.close()
    expect(pending.map((e) => (e.receipt.payload as { views: unknown[] }).views.length)).toEqual([200, 1])
    pending.pop() // killed between the two appends: only the first batch reached the outbox
    await writeFile(path, beforeFlush)
    const second = await reporter(client)
    expect(second.queued).toBe(1)
    await second.flush()
    await second.close()
    expect(new Set(sent()).size).toBe(201)
    expect(sent()).toHaveLength(201)
  })

  it('a torn tail and a damaged line are reported and cut out before the next append', async () => {
    const { client, sent } = fakeClient()
    const a = view('2026-12-02T12:00:00.000Z')
    const b = view('2026-12-02T12:00:05.000Z')
    await writeFile(path, line(a) + 'garbage\n' + line(b) + line(view('2026-12-02T12:00:10.000Z')).slice(0, 25))
    const warnings: string[] = []
    now = Date.parse('2026-12-02T12:00:15.000Z')
    const r = await reporter(client, warnings)
    expect(warnings).toEqual(['views journal: dropped a torn last line (25 bytes)', 'views journal: skipped damaged line(s) 2'])
    expect(r.queued).toBe(2)
    expect(r.record(item, undefined)).toBe(true)
    await r.journaled()
    // The new view is a whole line of its own, not glued to the torn one.
    expect(parseJournal(await readFile(path, 'utf8'))).toMatchObject({
      views: [a, b, { viewedAt: '2026-12-02T12:00:15.000Z' }],
      tornBytes: 0,
    })
    await r.flush()
    await r.close()
    expect(sent()).toEqual(['2026-12-02T12:00:00.000Z', '2026-12-02T12:00:05.000Z', '2026-12-02T12:00:15.000Z'])
  })

  it('replays no view the relay would refuse: one too soon after the last, or out of order', async () => {
    const { client, sent } = fakeClient()
    await writeFile(
      path,
      [
        view('2026-12-02T12:00:00.000Z'),
        view('2026-12-02T12:00:03.000Z'), // 3 s after: view_too_soon
        view('2026-12-02T12:00:00.000Z'), // again: view_duplicate
        view('2026-12-02T12:00:06.000Z'),
      ]
        .map(line)
        .join(''),
    )
    now = Date.parse('2026-12-02T12:01:00.000Z')
    const r = await reporter(client)
    await r.flush()
    await r.close()
    expect(sent()).toEqual(['2026-12-02T12:00:00.000Z', '2026-12-02T12:00:06.000Z'])
  })

  it('sweeps the temp file a replace cut short left, and keeps the journal it was replacing', async () => {
    await writeFile(path, line(view('2026-12-02T12:00:00.000Z')))
    await writeFile(join(dir, '.views.journal.0b7c.tmp'), line(view('2026-12-02T11:00:00.000Z')).slice(0, 12))
    await appendFile(join(dir, 'other.tmp'), 'not ours')
    const journal = await ViewJournal.open(path)
    expect(journal.recovered.views.map((v) => v.viewedAt)).toEqual(['2026-12-02T12:00:00.000Z'])
    expect((await readdir(dir)).sort()).toEqual(['other.tmp', 'views.journal'])
    await journal.close()
  })
})
