/**
 * The LocalLog conformance suite (STYLE.md practice 2): every implementation runs it with a `setup`
 * that returns an empty log. Real signed receipts throughout (fixtures.ts).
 */
import { PixpaxError, type Receipt } from '@pixpax/shared'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { LocalLog, LoggedReceipt } from '../storage/local-log.js'
import { buildChain, outboxEntry, quarantineEntry, signAck, testSigner } from './fixtures.js'

/** What `setup` returns: an empty log, and optionally how to reopen its storage and clean up. */
export interface LocalLogFixture {
  log: LocalLog
  /**
   * Opens the same storage again as a new LocalLog (the suite has closed the previous one). Without it
   * the persistence tests are skipped.
   */
  reopen?: () => Promise<LocalLog>
  /** Removes the storage; called after the suite closed the current log. */
  done?: () => Promise<void>
}

async function collect(log: LocalLog): Promise<LoggedReceipt[]> {
  const out: LoggedReceipt[] = []
  for await (const entry of log.scan()) out.push(entry)
  return out
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(PixpaxError)
  expect((error as PixpaxError).code).toBe(code)
}

let bigChain: Promise<LoggedReceipt[]> | undefined
/** 5,000 receipts of one stream, built once per test file. */
const largeChain = (): Promise<LoggedReceipt[]> => (bigChain ??= buildChain({ count: 5000, bookId: 'big' }))

/** Registers the LocalLog contract tests for one implementation. */
export function runLocalLogContract(name: string, setup: () => Promise<LocalLogFixture>): void {
  describe(`LocalLog contract: ${name}`, () => {
    let fixture: LocalLogFixture
    let log: LocalLog

    /** Closes the current log and reopens its storage; false when the implementation cannot. */
    const reopen = async (): Promise<boolean> => {
      if (!fixture.reopen) return false
      await log.close()
      log = await fixture.reopen()
      return true
    }

    beforeEach(async () => {
      fixture = await setup()
      log = fixture.log
    })
    afterEach(async () => {
      await log.close()
      await fixture.done?.()
    })

    it('starts empty', async () => {
      expect(await log.head('pixbook/acc-1/book-1')).toBeUndefined()
      expect(await log.read('pixbook/acc-1/book-1')).toEqual([])
      expect(await log.streamKeys()).toEqual([])
      expect(await collect(log)).toEqual([])
      expect(await log.listOutbox()).toEqual([])
      expect(await log.listQuarantine()).toEqual([])
    })

    it('appends, reports the head, and reads back exactly, page by page', async () => {
      const relay = await testSigner()
      const acked = await buildChain({ count: 4, relay })
      const chain = [...acked, ...(await buildChain({ count: 6, after: acked[3]! }))]
      const key = chain[0]!.streamKey
      await log.append(chain.slice(0, 1))
      expect(await log.head(key)).toEqual(chain[0])
      await log.append(chain.slice(1, 4))
      await log.append(chain.slice(4))
      expect(await log.head(key)).toEqual(chain[9])
      expect((await log.head(key))!.ack).toBeUndefined()
      expect((await log.read(key, 0, 1))[0]!.ack).toEqual(chain[0]!.ack)
      expect(await log.read(key)).toEqual(chain)
      expect(await log.read(key, 0)).toEqual(chain)
      expect(await log.read(key, 3, 4)).toEqual(chain.slice(3, 7))
      expect(await log.read(key, 8, 100)).toEqual(chain.slice(8))
      expect(await log.read(key, 10)).toEqual([])
      expect(await log.read(key, 50, 5)).toEqual([])
      expect(await log.read(key, 2, 0)).toEqual([])
      expect(await log.read('pixbook/acc-1/nope', 0, 10)).toEqual([])
      // paging with the last seq seen, the way sync resumes
      const pages: number[][] = []
      for (let after = 0; ;) {
        const page = await log.read(key, after, 3)
        if (page.length === 0) break
        pages.push(page.map((e) => e.seq))
        after = page.at(-1)!.seq
      }
      expect(pages).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]])
      expect(await log.streamKeys()).toEqual([key])
      expect(await collect(log)).toEqual(chain)
    })

    it('rejects a read window that is not one', async () => {
      await expect(log.read('pixbook/acc-1/book-1', -1)).rejects.toThrow(RangeError)
      await expect(log.read('pixbook/acc-1/book-1', 1.5)).rejects.toThrow(RangeError)
      await expect(log.read('pixbook/acc-1/book-1', 0, -1)).rejects.toThrow(RangeError)
    })

    it('refuses a wrong seq or a broken chain, atomically: nothing of the batch lands', async () => {
      const a = await buildChain({ count: 8, bookId: 'a' })
      const b = await buildChain({ count: 2, bookId: 'b' })
      const other = await buildChain({ count: 2, bookId: 'a', signer: await testSigner() }) // a fork of stream a
      await log.append(a.slice(0, 3))
      const before = { head: await log.head(a[0]!.streamKey), scan: await collect(log), keys: await log.streamKeys() }
      const withReceipt = (entry: LoggedReceipt, patch: Partial<Receipt>): LoggedReceipt => ({
        ...entry,
        receipt: { ...entry.receipt, ...patch },
      })

      await expectCode(log.append([a[3]!, a[5]!]), 'CHAIN_BROKEN') // a gap inside the batch
      await expectCode(log.append([{ ...a[3]!, seq: 5 }]), 'CHAIN_BROKEN') // seq past the head
      await expectCode(log.append([a[2]!]), 'CHAIN_CONFLICT') // already there (a replay)
      await expectCode(log.append([{ ...a[3]!, seq: 3 }]), 'CHAIN_CONFLICT') // position taken
      await expectCode(log.append([a[3]!, { ...a[4]!, seq: 4 }]), 'CHAIN_CONFLICT')
      await expectCode(log.append([withReceipt(a[3]!, { prevHash: `sha256:${'f'.repeat(64)}` })]), 'CHAIN_BROKEN')
      await expectCode(log.append([withReceipt(a[3]!, { prevEventId: a[1]!.receipt.eventId })]), 'CHAIN_BROKEN')
      await expectCode(log.append([{ ...other[1]!, seq: 4 }]), 'CHAIN_BROKEN') // names another chain's receipt
      await expectCode(log.append([{ ...other[0]!, seq: 4 }]), 'CHAIN_CONFLICT') // a second first receipt
      await expectCode(log.append([...b, a[3]!, a[4]!, a[6]!]), 'CHAIN_BROKEN') // other streams' entries do not land either
      await expectCode(log.append([b[1]!]), 'CHAIN_BROKEN') // a new stream must start at seq 1 …
      await expectCode(log.append([{ ...b[1]!, seq: 1 }]), 'CHAIN_BROKEN') // … with a first receipt
      await expectCode(log.append([b[0]!, { ...a[3]!, streamKey: b[0]!.streamKey, seq: 2 }]), 'SCHEMA_INVALID') // streamKey is not the receipt's
      await expectCode(
        log.append([
          {
            ...a[3]!,
            ack: {
              stream: a[3]!.streamKey,
              seq: 4,
              position: 3,
              eventId: a[2]!.receipt.eventId,
              hash: a[3]!.receipt.hash,
              relayKeyId: 'k',
              signature: 's',
            },
          },
        ]),
        'SCHEMA_INVALID',
      )
      await expectCode(log.append([{ ...a[3]!, seq: 0 }]), 'SCHEMA_INVALID')
      await log.append([]) // an empty batch is fine and does nothing

      const error = await log.append([a[2]!]).catch((e: unknown) => e as PixpaxError)
      expect(error?.details?.head).toEqual({ eventId: a[2]!.receipt.eventId, hash: a[2]!.receipt.hash, seq: 3 })

      expect({ head: await log.head(a[0]!.streamKey), scan: await collect(log), keys: await log.streamKeys() }).toEqual(before)
      expect(await log.read(b[0]!.streamKey)).toEqual([])
      await log.append([...a.slice(3), ...b]) // and the log still takes the right batch
      expect(await log.read(a[0]!.streamKey)).toEqual(a)
      expect(await collect(log)).toEqual([...a, ...b])
    })

    it('interleaves streams and scans in append order', async () => {
      const [a, b, c] = await Promise.all([
        buildChain({ count: 5, bookId: 'a' }),
        buildChain({ count: 4, bookId: 'b' }),
        buildChain({ count: 2, bookId: 'c' }),
      ])
      const batches = [[a[0]!], [b[0]!, b[1]!], [a[1]!, c[0]!, b[2]!, a[2]!], [c[1]!], [a[3]!, a[4]!, b[3]!]]
      for (const batch of batches) await log.append(batch)
      expect(await collect(log)).toEqual(batches.flat())
      expect(await log.streamKeys()).toEqual(['pixbook/acc-1/a', 'pixbook/acc-1/b', 'pixbook/acc-1/c'])
      expect(await log.read('pixbook/acc-1/a')).toEqual(a)
      expect(await log.read('pixbook/acc-1/b', 1, 2)).toEqual(b.slice(1, 3))
      expect(await log.head('pixbook/acc-1/c')).toEqual(c[1])
    })

    it('applies overlapping calls in call order', async () => {
      const [a, b] = await Promise.all([buildChain({ count: 6, bookId: 'a' }), buildChain({ count: 3, bookId: 'b' })])
      const outbox = b.map((e, i) => outboxEntry(e.receipt, { createdAt: i }))
      await Promise.all([
        log.append(a.slice(0, 2)),
        log.append(b.slice(0, 1)),
        log.append(a.slice(2, 3)),
        ...outbox.map((entry) => log.putOutbox(entry)),
        log.append(a.slice(3)),
        log.addQuarantine(quarantineEntry({ id: 'q1' })),
        log.append(b.slice(1)),
        log.deleteOutbox(outbox[0]!.id),
      ])
      expect(await log.read('pixbook/acc-1/a')).toEqual(a)
      expect(await log.read('pixbook/acc-1/b')).toEqual(b)
      expect(await collect(log)).toEqual([...a.slice(0, 2), b[0], a[2], ...a.slice(3), ...b.slice(1)])
      expect(await log.listOutbox()).toEqual(outbox.slice(1))
      expect((await log.listQuarantine()).map((q) => q.id)).toEqual(['q1'])
    })

    it('keeps outbox entries by id: insert, replace, delete, listed by createdAt then id', async () => {
      const chain = await buildChain({ count: 4, bookId: 'outbox' })
      const [r1, r2, r3, r4] = chain.map((e) => e.receipt) as [Receipt, Receipt, Receipt, Receipt]
      const e1 = outboxEntry(r1, { id: 'b', createdAt: 2000 })
      const e2 = outboxEntry(r2, { id: 'a', createdAt: 3000 })
      const e3 = outboxEntry(r3, { id: 'c', createdAt: 1000 })
      const e4 = outboxEntry(r4, { id: 'A', createdAt: 3000 }) // same createdAt as e2: id order ('A' < 'a')
      for (const entry of [e1, e2, e3, e4]) await log.putOutbox(entry)
      expect(await log.listOutbox()).toEqual([e3, e1, e4, e2])
      const sent = { ...e1, state: 'sent' as const, attempts: 1, nextAttemptAt: 9000 }
      await log.putOutbox(sent)
      const rejected = {
        ...e3,
        state: 'rejected' as const,
        error: { code: 'CHAIN_CONFLICT', message: 'fork', details: { head: { seq: 3 } } },
      }
      await log.putOutbox(rejected)
      expect(await log.listOutbox()).toEqual([rejected, sent, e4, e2])
      await log.deleteOutbox('a')
      await log.deleteOutbox('no-such-id')
      expect(await log.listOutbox()).toEqual([rejected, sent, e4])
      if (await reopen()) expect(await log.listOutbox()).toEqual([rejected, sent, e4])
    })

    it('records quarantine entries, listed by time then id; the same id replaces', async () => {
      const q1 = quarantineEntry({ id: 'q1', at: 20, raw: '{"eventId":1}\n  with a newline and "quotes" é ✓' })
      const q2 = quarantineEntry({
        id: 'q2',
        at: 10,
        streamKey: 'pixbook/acc-1/book-1',
        eventId: '01J0000000000000000000000A',
        code: 'SIGNATURE_INVALID',
      })
      const q3 = quarantineEntry({ id: 'q0', at: 20 })
      for (const entry of [q1, q2, q3]) await log.addQuarantine(entry)
      expect(await log.listQuarantine()).toEqual([q2, q3, q1])
      const q1b = { ...q1, message: 'seen again', at: 5 }
      await log.addQuarantine(q1b)
      expect(await log.listQuarantine()).toEqual([q1b, q2, q3])
      if (await reopen()) expect(await log.listQuarantine()).toEqual([q1b, q2, q3])
    })

    it('keeps meta records by key: absent → undefined, replace, remove, copies, across a reopen', async () => {
      expect(await log.getMeta('relay')).toBeUndefined()
      const pin = { publicKeyId: 'k1', how: 'tofu', checkpoint: { note: 'a\n1\nroot\n\n— a sig\n', size: 1 } }
      await log.putMeta('relay', pin)
      await log.putMeta('other', [1, 'two'])
      expect(await log.getMeta('relay')).toEqual(pin)
      const copy = (await log.getMeta('relay')) as { how: string }
      copy.how = 'changed'
      expect(await log.getMeta('relay')).toEqual(pin)
      await log.putMeta('relay', { ...pin, how: 'explicit' })
      await log.putMeta('other', undefined)
      expect(await log.getMeta('other')).toBeUndefined()
      if (await reopen()) {
        expect(await log.getMeta('relay')).toEqual({ ...pin, how: 'explicit' })
        expect(await log.getMeta('other')).toBeUndefined()
      }
    })

    it("keeps each receipt's log position", async () => {
      const chain = (await buildChain({ count: 3, bookId: 'positions' })).map((entry, i) => ({ ...entry, position: 10 + i }))
      await log.append(chain)
      const positions = async () => (await log.read(chain[0]!.streamKey)).map((e) => e.position)
      expect(await positions()).toEqual([10, 11, 12])
      expect((await collect(log)).map((e) => e.position)).toEqual([10, 11, 12])
      if (await reopen()) expect(await positions()).toEqual([10, 11, 12])
    })

    it('hands out copies: changing what it returned does not change the log', async () => {
      const chain = await buildChain({ count: 2 })
      await log.append(chain)
      const read = await log.read(chain[0]!.streamKey)
      read[0]!.receipt.payload.title = 'changed'
      read[1]!.seq = 99
      const head = (await log.head(chain[0]!.streamKey))!
      head.receipt.hash = 'sha256:changed'
      chain[1]!.receipt.hash = 'sha256:changed-after-append' // the caller's objects, too
      const entry = outboxEntry(chain[0]!.receipt)
      await log.putOutbox(entry)
      ;(await log.listOutbox())[0]!.state = 'acked'
      entry.attempts = 42
      const again = await log.read(chain[0]!.streamKey)
      expect(again[0]!.receipt.payload.title).toBe('Book pixbook/acc-1/book-1')
      expect(again[1]!.seq).toBe(2)
      expect(again[1]!.receipt.hash).not.toMatch(/changed/)
      expect((await log.head(chain[0]!.streamKey))!.receipt.hash).not.toMatch(/changed/)
      expect((await log.listOutbox())[0]).toMatchObject({ state: 'queued', attempts: 0 })
    })

    it('fills a partly filled chunk across single appends', async () => {
      const chain = await buildChain({ count: 300, bookId: 'singles' })
      await log.append(chain.slice(0, 250))
      for (const entry of chain.slice(250, 260)) await log.append([entry])
      await log.append(chain.slice(260))
      const key = chain[0]!.streamKey
      expect(await log.read(key)).toEqual(chain)
      expect(await log.read(key, 254, 4)).toEqual(chain.slice(254, 258))
      expect(await log.head(key)).toEqual(chain[299])
      expect(await collect(log)).toEqual(chain)
    })

    it('round-trips a 5,000-receipt batch', async () => {
      const chain = await largeChain()
      const small = await buildChain({ count: 3, bookId: 'small' })
      const key = chain[0]!.streamKey
      await log.append(small.slice(0, 1))
      await log.append(chain)
      await log.append(small.slice(1))
      const check = async (): Promise<void> => {
        expect(await log.head(key)).toEqual(chain[4999])
        expect(await log.read(key)).toEqual(chain)
        expect(await log.read(key, 255, 3)).toEqual(chain.slice(255, 258))
        expect(await log.read(key, 4990)).toEqual(chain.slice(4990))
        expect(await log.read(key, 1000, 1000)).toEqual(chain.slice(1000, 2000))
        const scanned = await collect(log)
        expect(scanned.length).toBe(5003)
        expect(scanned).toEqual([small[0], ...chain, ...small.slice(1)])
      }
      await check()
      if (await reopen()) await check()
    })

    it('keeps everything across a reopen, and appends after it', async (ctx) => {
      if (!fixture.reopen) return ctx.skip()
      const relay = await testSigner()
      const [a, b] = await Promise.all([buildChain({ count: 6, bookId: 'a', relay }), buildChain({ count: 3, bookId: 'b' })])
      await log.append(a.slice(0, 3))
      await log.append([b[0]!, a[3]!])
      const queued = outboxEntry(b[1]!.receipt, { createdAt: 5 })
      const gone = outboxEntry(b[2]!.receipt, { createdAt: 6 })
      await log.putOutbox(queued)
      await log.putOutbox(gone)
      await log.deleteOutbox(gone.id)
      const q = quarantineEntry({ id: 'q' })
      await log.addQuarantine(q)
      await reopen()
      expect(await log.streamKeys()).toEqual(['pixbook/acc-1/a', 'pixbook/acc-1/b'])
      expect(await log.head('pixbook/acc-1/a')).toEqual(a[3])
      expect(await log.read('pixbook/acc-1/a')).toEqual(a.slice(0, 4))
      expect(await collect(log)).toEqual([...a.slice(0, 3), b[0], a[3]])
      expect(await log.listOutbox()).toEqual([queued])
      expect(await log.listQuarantine()).toEqual([q])
      await expectCode(log.append([a[5]!]), 'CHAIN_BROKEN') // the reopened log knows its heads
      await log.append([a[4]!, b[1]!, a[5]!])
      await reopen()
      expect(await log.read('pixbook/acc-1/a')).toEqual(a)
      expect(await collect(log)).toEqual([...a.slice(0, 3), b[0], a[3], a[4], b[1], a[5]])
    })

    it('stores an ack learned after its receipt was logged (setAck), for head, read and scan, across a reopen', async () => {
      const relay = await testSigner()
      const a = await buildChain({ count: 300, bookId: 'acks' })
      const b = await buildChain({ count: 2, bookId: 'other' })
      const key = a[0]!.streamKey
      await log.append(a.slice(0, 290))
      await log.append([b[0]!, ...a.slice(290), b[1]!])
      const ackOf = async (entry: LoggedReceipt) => signAck(relay, entry)
      const mid = await ackOf(a[256]!) // the seq that opens the second 256-seq window
      const last = await ackOf(a[299]!)
      await log.setAck(key, 257, mid)
      await log.setAck(key, 300, last)
      await log.setAck(key, 300, last) // the same ack again: nothing to do
      const expectAcks = async (): Promise<void> => {
        expect((await log.read(key, 256, 1))[0]!.ack).toEqual(mid)
        expect((await log.read(key, 255, 1))[0]!.ack).toBeUndefined()
        expect((await log.head(key))!.ack).toEqual(last)
        expect((await log.read(key)).filter((e) => e.ack).map((e) => e.seq)).toEqual([257, 300])
        const scanned = await collect(log)
        expect(scanned.filter((e) => e.ack).map((e) => e.seq)).toEqual([257, 300])
        expect(scanned.find((e) => e.seq === 300 && e.streamKey === key)!.ack).toEqual(last)
      }
      await expectAcks()
      // Refused, changing nothing: an ack naming another receipt, another ack for an acked one, a seq not logged.
      await expectCode(log.setAck(key, 5, await ackOf(a[5]!)), 'SCHEMA_INVALID')
      await expectCode(log.setAck(key, 300, { ...last, position: 999 }), 'SCHEMA_INVALID')
      await expectCode(log.setAck(key, 301, { ...last, seq: 301 }), 'NOT_FOUND')
      await expectCode(log.setAck('pixbook/acc-1/none', 1, { ...last, stream: 'pixbook/acc-1/none', seq: 1 }), 'NOT_FOUND')
      await expectAcks()
      if (await reopen()) await expectAcks()
    })

    it('keeps one start-up snapshot text, replaced whole, removed with undefined, across a reopen', async () => {
      expect(await log.getSnapshot()).toBeUndefined()
      const big = JSON.stringify({ v: 1, lines: 'x\n'.repeat(100_000) })
      await log.putSnapshot('{"v":1}')
      await log.putSnapshot(big)
      expect(await log.getSnapshot()).toBe(big)
      if (await reopen()) expect(await log.getSnapshot()).toBe(big)
      await log.putSnapshot(undefined)
      await log.putSnapshot(undefined) // removing none is fine
      expect(await log.getSnapshot()).toBeUndefined()
      if (await reopen()) expect(await log.getSnapshot()).toBeUndefined()
    })

    it('rejects calls after close', async () => {
      await log.close()
      await expect(log.head('pixbook/acc-1/book-1')).rejects.toThrow(/closed/)
      await expect(log.append([])).rejects.toThrow(/closed/)
      await expect(log.listOutbox()).rejects.toThrow(/closed/)
      await log.close() // closing twice is fine
    })
  })
}
