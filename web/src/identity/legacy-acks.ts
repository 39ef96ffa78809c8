/**
 * Moves acks an earlier version of the app kept beside the local log (meta records `web/ack/{eventId}`,
 * from before client-sdk stored an ack that arrives after its receipt's delivery) into the log itself
 * with `LocalLog.setAck`, so they are not lost and the receipts screen reads one place. Runs once per
 * log (marked done in a meta record); a record that no longer fits its receipt is left where it is.
 */
import type { Ack, LocalLog } from '@pixpax/client-sdk'

const LEGACY_PREFIX = 'web/ack/'
const DONE = 'web/ack-moved'

export async function moveLegacyAcks(log: LocalLog): Promise<number> {
  if ((await log.getMeta(DONE)) === true) return 0
  let moved = 0
  for await (const logged of log.scan()) {
    if (logged.ack) continue
    const key = `${LEGACY_PREFIX}${logged.receipt.eventId}`
    const kept = (await log.getMeta(key)) as Ack | undefined
    if (!kept) continue
    try {
      await log.setAck(logged.streamKey, logged.seq, kept)
      await log.putMeta(key, undefined)
      moved++
    } catch {
      // Names another receipt or place: setAck refuses it; keep the record rather than drop it.
    }
  }
  await log.putMeta(DONE, true)
  return moved
}
