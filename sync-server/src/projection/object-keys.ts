import { streamEventsPrefix, type Receipt } from '@pixpax/shared'

/** `pixpax/{plural}/{ids…}/events/{eventId}.json` (ARCHITECTURE §4). */
export function receiptObjectKey(receipt: Receipt): string {
  return `${streamEventsPrefix(receipt.stream)}${receipt.eventId}.json`
}
