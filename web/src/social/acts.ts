/**
 * The person's social acts, through client-sdk's socialCommands on this device's sync client: each is
 * signed and queued in the outbox at once (offline too) and shown as pending until the relay acks it.
 * What the relay's read model does not show yet is read back from the outbox (pending) and the local
 * log (what I follow, confirmed).
 */
import { socialCommands, type OutboxEntry, type SocialCommands } from '@pixpax/client-sdk'
import type { Receipt } from '@pixpax/shared'
import { useStore } from '../app/store.js'
import { changes, identityState, localReceipts, queued, syncClient } from '../identity/identity-session.js'

/** The reactions offered on a post (the relay allows 5 distinct per person per post). */
export const EMOJI = ['❤️', '🔥', '😂', '😮', '👏', '⭐'] as const
export const REACTION_CAP = 5

function commands(): { identityId: string; social: SocialCommands } {
  const c = syncClient()
  const identityId = identityState.value.identity?.identityId
  if (!c || !identityId) throw new Error('create an identity first')
  return { identityId, social: socialCommands(c, identityId) }
}

/** Runs one social command (which queues a signed receipt) and tells the screens. */
export async function act(run: (social: SocialCommands) => Promise<Receipt>): Promise<Receipt> {
  const receipt = await run(commands().social)
  queued()
  return receipt
}

/** Our receipts not yet accepted by the relay (queued or sent), of `type` when given. */
export function pendingReceipts(type?: string): Receipt[] {
  const c = syncClient()
  if (!c) return []
  return c
    .pending()
    .filter((e: OutboxEntry) => (e.state === 'queued' || e.state === 'sent') && (!type || e.receipt.type === type))
    .map((e) => e.receipt)
}

/** Re-renders on every change of the outbox or the relay's log; returns the pending receipts. */
export function usePending(type?: string): Receipt[] {
  useStore(changes)
  useStore(identityState)
  return pendingReceipts(type)
}

/**
 * Whom I follow, folded from my profile stream: confirmed receipts in the local log, then pending ones
 * (so a follow made offline shows at once).
 */
export async function followedIdentities(): Promise<Set<string>> {
  const me = identityState.value.identity?.identityId
  if (!me) return new Set()
  const confirmed = await localReceipts(`profile/${me}`)
  const pending =
    syncClient()
      ?.pending()
      .filter((e) => e.state !== 'rejected')
      .map((e) => e.receipt) ?? []
  const seen = new Set(confirmed.map((r) => r.eventId))
  const follows = new Set<string>()
  for (const r of [...confirmed, ...pending.filter((r) => r.stream.type === 'profile' && !seen.has(r.eventId))]) {
    const target = r.payload.identityId as string | undefined
    if (r.type === 'FOLLOWED' && target) follows.add(target)
    if (r.type === 'UNFOLLOWED' && target) follows.delete(target)
  }
  return follows
}
