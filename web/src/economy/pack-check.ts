/**
 * "Verify this pack": recomputes a drop pack from the drop's revealed seed, on this device, with
 * shared's derivation (docs/economy.md "Provably fair packs"). Each step is reported on its own.
 */
import { deriveFromTicket, dropPackId, packTicket, type Receipt } from '@pixpax/shared'

export interface DropJson {
  dropId: string
  collectionId: string
  version: number
  series: string[]
  packSize: number
  commitment: string
  seed: string | null
  opensAt: string
  closesAt: string
  packs: number
}

export interface CatalogJson {
  cards: Array<{ cardId: string; seriesId: string; version: number; supply: number | null; name: string; artUrl: string }>
}

export interface PackCheck {
  step: string
  ok: boolean
  detail: string
}

function base64UrlBytes(text: string): Uint8Array {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4)
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** The checks of one PACK_ISSUED (from the local log, verified there) against its revealed drop. */
export async function checkPack(pack: Receipt, drop: DropJson, catalog: CatalogJson): Promise<PackCheck[]> {
  const payload = pack.payload as {
    packId: string
    cards: Array<{ cardId: string }>
    drop?: { dropId: string; collector: string; ticket: string }
  }
  const d = payload.drop
  if (!d) return [{ step: 'drop pack', ok: false, detail: 'this pack was not issued by a drop' }]
  if (!drop.seed) return [{ step: 'seed revealed', ok: false, detail: 'the drop is not revealed yet: its seed is still secret' }]
  const checks: PackCheck[] = []
  const commitment = `sha256:${await sha256Hex(base64UrlBytes(drop.seed))}`
  checks.push({ step: 'seed matches the commitment', ok: commitment === drop.commitment, detail: `sha256(seed) = ${commitment}` })
  const ticket = packTicket(drop.seed, d.dropId, d.collector)
  checks.push({ step: 'ticket from the seed', ok: ticket === d.ticket, detail: ticket })
  const packId = dropPackId(d.dropId, d.collector)
  checks.push({ step: 'pack id of this collector', ok: packId === payload.packId, detail: packId })
  // The catalog: the drop's series at a version ≤ the drop's. With no card short of supply, the pack is
  // the ranking's first `packSize` cards; a limited card may have run out in an earlier pack, which only
  // the whole log shows (`pixpax verify-drop`).
  const series = new Set(drop.series)
  const cards = catalog.cards.filter((c) => series.has(c.seriesId) && c.version <= drop.version)
  const derived = deriveFromTicket(ticket, cards, () => 0, drop.packSize)
  const got = payload.cards.map((c) => c.cardId)
  const same = derived.length === got.length && derived.every((c, i) => c === got[i])
  const limited = cards.some((c) => c.supply !== null)
  checks.push({
    step: 'cards derived from the ticket',
    ok: same,
    detail: same
      ? derived.join(', ')
      : limited
        ? `derived ${derived.join(', ')}; a limited card may have run out before this pack — verify the whole log with pixpax verify-drop`
        : `derived ${derived.join(', ')}, the pack has ${got.join(', ')}`,
  })
  return checks
}
