/**
 * offerCard's expiry options: `expiresIn` from the injected clock or `expiresAt`, written in the receipt
 * format; a time not in the future, or both options at once, is refused before anything is appended.
 * (The relay's trade_expired rules themselves: sync-server/test/economy-trade-expiry.test.ts.)
 */
import type { Receipt } from '@pixpax/shared'
import { describe, expect, it } from 'vitest'
import { offerCard, type Appender } from '../src/economy/commands.js'

function recorder(): Appender & { calls: Array<{ stream: unknown; type: string; payload: Record<string, unknown> }> } {
  const calls: Array<{ stream: unknown; type: string; payload: Record<string, unknown> }> = []
  return {
    calls,
    append: (stream, type, payload) => {
      calls.push({ stream, type, payload })
      return Promise.resolve({ type, payload } as unknown as Receipt)
    },
  }
}

const book = { accountId: 'acc-a', bookId: 'book' }
const offer = { tradeId: 't1', cardId: 'pk1-0', to: { accountId: 'acc-b', bookId: 'book' } }
const now = () => Date.UTC(2026, 11, 2, 12, 0, 0)

describe('offerCard expiry', () => {
  it('writes expiresIn as an RFC 3339 expiresAt from the clock, and no expiresAt without one', async () => {
    const log = recorder()
    await offerCard(log, book, { ...offer, expiresIn: 90_000 }, { now })
    await offerCard(log, book, { ...offer, expiresAt: new Date(now() + 1000) }, { now })
    await offerCard(log, book, offer, { now })
    expect(log.calls.map((c) => c.payload.expiresAt)).toEqual(['2026-12-02T12:01:30.000Z', '2026-12-02T12:00:01.000Z', undefined])
    expect(log.calls[0]).toMatchObject({ stream: 'pixbook/acc-a/book', type: 'CARD_TRADE_OFFERED', payload: { ...offer } })
    expect(Object.keys(log.calls[2]!.payload)).not.toContain('expiresAt')
  })

  it('refuses an expiry that is not in the future, or both options, appending nothing', async () => {
    const log = recorder()
    await expect(offerCard(log, book, { ...offer, expiresIn: 0 }, { now })).rejects.toThrow(RangeError)
    await expect(offerCard(log, book, { ...offer, expiresAt: '2026-12-01T00:00:00Z' }, { now })).rejects.toThrow(RangeError)
    await expect(offerCard(log, book, { ...offer, expiresAt: 'not a date' }, { now })).rejects.toThrow(RangeError)
    await expect(offerCard(log, book, { ...offer, expiresAt: new Date(now() + 5000), expiresIn: 5000 }, { now })).rejects.toThrow(TypeError)
    expect(log.calls).toEqual([])
  })
})
