/**
 * Reads of a tail projection (search, notifications) wait, briefly, for it to cover the log as it was
 * when the request came — so a client that was just answered for its push finds what it pushed — and
 * then say how far behind they still are: `x-projection-behind: N` receipts (0 when caught up). After
 * TAIL_READ_WAIT_MS the route answers from what the projection has.
 */
import type { FastifyReply } from 'fastify'
import type { RelayContext } from '../app.js'

export const PROJECTION_BEHIND_HEADER = 'x-projection-behind'

/** Waits up to TAIL_READ_WAIT_MS for `projector` to cover the log as it is now; returns how far behind it still is. */
export async function tailCaughtUp(relay: RelayContext, projector: string): Promise<number> {
  const { logSize, appliedSize } = await relay.tails.lag(projector)
  return appliedSize >= logSize ? 0 : relay.tails.waitFor(projector, logSize, relay.config.TAIL_READ_WAIT_MS)
}

export async function awaitTail(relay: RelayContext, reply: FastifyReply, projector: string): Promise<number> {
  const behind = await tailCaughtUp(relay, projector)
  void reply.header(PROJECTION_BEHIND_HEADER, String(behind))
  return behind
}
