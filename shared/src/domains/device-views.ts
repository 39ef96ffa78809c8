/**
 * Views (issue 12 §7): a player reports what it showed as DEVICE_VIEWS batches in its own stream
 * (`device/{identityId}`), so the owner sees view counts per post and per device.
 *
 * One rule makes views countable without trusting the relay to deduplicate: a device's views are in
 * strictly increasing `viewedAt` order, at least MIN_VIEW_GAP_MS apart, across the whole stream. So a
 * player cannot report more than one view per 5 s, and no two views of a stream share player + post +
 * time (the deduplication key of the issue) — a resent or replayed view is refused, never counted twice.
 *
 * - Within one batch (every verifier, STREAM_RULE_VIOLATION): `view_duplicate` (the same artwork and
 *   viewedAt twice), `view_too_soon` (less than 5 s after the previous view, or before it),
 *   `view_after_receipt` (a view later than the receipt's own createdAt: it had not happened yet).
 * - Against the stream's earlier batches (cross-stream rule over the `devices.lastView` fact: the relay
 *   and a verifier of a whole log, DOMAIN_RULE_VIOLATION): `view_duplicate` and `view_too_soon` against
 *   the last accepted view.
 *
 * `clockUnsynced: true` marks a view timed by a clock the player did not trust (it has not seen the
 * relay's clock within CLOCK_SKEW_LIMIT_MS of its own): counts include it, times are approximate.
 */
import { z } from 'zod'
import { PixpaxError } from '../errors.js'
import type { CheckedReceipt } from '../receipt.js'
import { CreatedAtSchema, Sha256RefSchema, UlidSchema } from '../schemas.js'
import { text, type CrossStreamRule, type FactChange } from './domain.js'

/** At most one view per this long per player. */
export const MIN_VIEW_GAP_MS = 5_000
/** Views in one DEVICE_VIEWS receipt. */
export const MAX_VIEWS_PER_BATCH = 200
/** A player whose clock differs from the relay's by more than this flags its views `clockUnsynced`. */
export const CLOCK_SKEW_LIMIT_MS = 5_000

export const DeviceViewSchema = z.strictObject({
  /** The artwork shown (its blob hash): always known to the player. */
  artwork: Sha256RefSchema,
  /** The post it came from, when the channel names one (relay channels do; a static list does not). */
  postId: UlidSchema.optional(),
  /** When its first frame was on screen, by the device's clock. */
  viewedAt: CreatedAtSchema,
  /** The channel it played in (`playlist:…`, `user:…`, `hashtag:…`, `static:…`). */
  channel: text(200).optional(),
  clockUnsynced: z.literal(true).optional(),
})
export type DeviceView = z.infer<typeof DeviceViewSchema>

export const DeviceViewsPayload = z.strictObject({ views: z.array(DeviceViewSchema).min(1).max(MAX_VIEWS_PER_BATCH) })
export type DeviceViews = z.infer<typeof DeviceViewsPayload>

/** The fact the cross-batch rule reads: device identityId → its last accepted view `{at, artwork}`. */
export const DEVICE_VIEW_FACTS = { lastView: 'devices.lastView' } as const
export interface LastView {
  /** viewedAt in epoch ms. */
  at: number
  artwork: string
}

const viewsOf = (c: CheckedReceipt): DeviceView[] => (c.receipt.payload as DeviceViews).views
const deviceOf = (c: CheckedReceipt): string => c.receipt.stream.identityId!

function refuse(code: 'STREAM_RULE_VIOLATION' | 'DOMAIN_RULE_VIOLATION', rule: string, message: string, index: number): never {
  throw new PixpaxError(code, message, { rule, index })
}

/** Where `view` breaks the order after `previous` (a view before it), if it does. */
function orderBreak(previous: LastView, view: DeviceView): 'view_duplicate' | 'view_too_soon' | undefined {
  const at = Date.parse(view.viewedAt)
  if (at === previous.at && view.artwork === previous.artwork) return 'view_duplicate'
  if (at < previous.at + MIN_VIEW_GAP_MS) return 'view_too_soon'
  return undefined
}

/** The in-batch rules (`check` hook): every verifier decides them from the receipt alone. */
export function checkViewBatch(c: CheckedReceipt): void {
  const views = viewsOf(c)
  const createdAt = Date.parse(c.receipt.createdAt)
  let previous: LastView | undefined
  for (const [index, view] of views.entries()) {
    const at = Date.parse(view.viewedAt)
    if (at > createdAt)
      refuse('STREAM_RULE_VIOLATION', 'view_after_receipt', `views[${index}] is later than the receipt's createdAt`, index)
    const broken = previous && orderBreak(previous, view)
    if (broken === 'view_duplicate') refuse('STREAM_RULE_VIOLATION', broken, `views[${index}] repeats the view before it`, index)
    if (broken)
      refuse('STREAM_RULE_VIOLATION', broken, `views[${index}] is less than ${MIN_VIEW_GAP_MS} ms after the view before it`, index)
    previous = { at, artwork: view.artwork }
  }
}

/** Across batches: the first view of a batch comes at least 5 s after the stream's last accepted one. */
export const deviceViewsRule: CrossStreamRule = {
  reads: (c) => [{ kind: DEVICE_VIEW_FACTS.lastView, key: deviceOf(c) }],
  decide: (c, facts) => {
    const last = facts.fact(DEVICE_VIEW_FACTS.lastView, deviceOf(c)) as LastView | undefined
    if (!last) return
    const first = viewsOf(c)[0]!
    const broken = orderBreak(last, first)
    if (broken === 'view_duplicate') refuse('DOMAIN_RULE_VIOLATION', broken, 'views[0] repeats a view this device already reported', 0)
    if (broken)
      refuse('DOMAIN_RULE_VIOLATION', broken, `views[0] is less than ${MIN_VIEW_GAP_MS} ms after this device's last reported view`, 0)
  },
  record: (c): FactChange[] => {
    const last = viewsOf(c).at(-1)!
    const value: LastView = { at: Date.parse(last.viewedAt), artwork: last.artwork }
    return [{ kind: DEVICE_VIEW_FACTS.lastView, key: deviceOf(c), value }]
  },
}
