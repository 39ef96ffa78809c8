/**
 * The outbox state machine (STYLE practice 11): `Record<State, Record<Event, …>>`, so a missing cell is a
 * compile error. `undefined` marks an event that cannot happen in that state (a protocol violation by
 * the relay or a bug), which the engine reports instead of acting on.
 *
 *   queued ──send──▶ sent ──acked──▶ acked ──delivered──▶ (removed: the receipt is in the local log)
 *     ▲               │ conflict/retryable ─▶ queued (rebased / backed off)
 *     └──disconnect───┘ rejected ─▶ rejected (surfaced to the app with its code; never dropped silently)
 *
 * `restart` is the engine opening after a crash or a stop: nothing is in flight any more, so what was
 * sent (or acked but not yet delivered) is sent again — the relay answers an exact resend with its first
 * result, never a second receipt. The Outbox (outbox.ts) is what applies the table.
 */
import type { OutboxState } from '../storage/local-log.js'

export type OutboxEvent = 'send' | 'acked' | 'rejected' | 'conflict' | 'retryable' | 'disconnect' | 'delivered' | 'restart'

export const OUTBOX_TRANSITIONS: Record<OutboxState, Record<OutboxEvent, OutboxState | 'removed' | undefined>> = {
  queued: {
    send: 'sent',
    acked: undefined,
    rejected: undefined,
    conflict: 'queued',
    retryable: 'queued',
    disconnect: 'queued',
    delivered: 'removed',
    restart: 'queued',
  },
  sent: {
    send: undefined,
    acked: 'acked',
    rejected: 'rejected',
    conflict: 'queued',
    retryable: 'queued',
    disconnect: 'queued',
    delivered: 'removed',
    restart: 'queued',
  },
  acked: {
    send: undefined,
    acked: 'acked',
    rejected: undefined,
    conflict: undefined,
    retryable: undefined,
    disconnect: 'acked',
    delivered: 'removed',
    restart: 'queued',
  },
  rejected: {
    send: undefined,
    acked: undefined,
    rejected: 'rejected',
    conflict: undefined,
    retryable: undefined,
    disconnect: 'rejected',
    delivered: 'removed',
    restart: 'rejected',
  },
}

export function nextOutboxState(state: OutboxState, event: OutboxEvent): OutboxState | 'removed' | undefined {
  return OUTBOX_TRANSITIONS[state][event]
}

/** Retry delay: exponential from `baseMs`, capped at `maxMs`, with full jitter (random in [d/2, d]). */
export function backoffMs(attempts: number, random: () => number, baseMs = 500, maxMs = 60_000): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1))
  return Math.round(d / 2 + (random() * d) / 2)
}
