/**
 * The player's view bookkeeping without processes: the 5 s gap, `clockUnsynced` from the relay's Date
 * header, the last reported view read back after a restart, and a clock that jumped back.
 */
import type { Receipt } from '@pixpax/shared'
import { describe, expect, it } from 'vitest'
import { ClockCheck } from '../src/views/clock-check.js'
import { ViewReporter } from '../src/views/view-reporter.js'

const art = 'sha256:' + 'ab'.repeat(32)
const item = { artwork: art, source: '01JZ0000000000000000000000', postId: '01JZ0000000000000000000000' }

function fakeClient() {
  const appended: Array<{ type: string; payload: Record<string, unknown> }> = []
  const pending: Array<{ streamKey: string; receipt: Receipt }> = []
  return {
    appended,
    pending,
    client: {
      append: async (_stream: unknown, type: string, payload: Record<string, unknown>) => {
        appended.push({ type, payload })
        return {} as Receipt
      },
      pending: () => pending as never,
    },
  }
}

describe('ClockCheck', () => {
  it('trusts the clock only after a relay answer within 5 s of it', () => {
    let now = Date.parse('2026-12-02T12:00:00.000Z')
    const clock = new ClockCheck(() => now)
    expect(clock.synced).toBe(false)
    clock.observe(new Date(now).toUTCString(), now - 100, now + 100)
    expect(clock.synced).toBe(true)
    now += 3_600_000 // the device clock runs an hour ahead of the relay's
    clock.observe(new Date(now - 3_600_000).toUTCString(), now, now)
    expect(clock.synced).toBe(false)
    expect(clock.skewMs).toBeGreaterThan(3_500_000)
    clock.observe('garbage', now, now) // an unreadable header changes nothing
    expect(clock.synced).toBe(false)
  })
})

describe('ViewReporter', () => {
  it('records at most one view per 5 s, flags an untrusted clock, and batches into the outbox', async () => {
    let now = Date.parse('2026-12-02T12:00:00.000Z')
    let synced = false
    const { client, appended } = fakeClient()
    const views = new ViewReporter(client, 'dev-1', {
      now: () => now,
      get synced() {
        return synced
      },
    })
    expect(views.record(item, 'relay:user:me')).toBe(true)
    now += 4_999
    expect(views.record(item, 'relay:user:me')).toBe(false)
    now += 1
    synced = true
    expect(views.record({ artwork: art, source: '/list.json' }, undefined)).toBe(true)
    const batches = await views.flush()
    expect(batches).toHaveLength(1)
    expect(appended).toEqual([
      {
        type: 'DEVICE_VIEWS',
        payload: {
          views: [
            { artwork: art, postId: item.postId, viewedAt: '2026-12-02T12:00:00.000Z', channel: 'relay:user:me', clockUnsynced: true },
            { artwork: art, viewedAt: '2026-12-02T12:00:05.000Z' },
          ],
        },
      },
    ])
    expect(await views.flush()).toEqual([])
  })

  it('after a restart, keeps the gap after the last view in its stream or outbox; drops views a clock jump put in the future', async () => {
    const { client, pending, appended } = fakeClient()
    const last = (viewedAt: string) => ({ type: 'DEVICE_VIEWS', payload: { views: [{ artwork: art, viewedAt }] } }) as unknown as Receipt
    pending.push({ streamKey: 'device/dev-1', receipt: last('2026-12-02T12:00:10.000Z') })
    let now = Date.parse('2026-12-02T12:00:12.000Z')
    const views = new ViewReporter(client, 'dev-1', { now: () => now, synced: true })
    await views.open({ read: async () => [{ receipt: last('2026-12-02T12:00:00.000Z') }] as never })
    expect(views.record(item, undefined)).toBe(false)
    now = Date.parse('2026-12-02T12:00:15.000Z')
    expect(views.record(item, undefined)).toBe(true)
    now -= 60_000 // the clock is set back a minute before the flush
    expect(await views.flush()).toEqual([])
    expect(appended).toEqual([])
  })
})
