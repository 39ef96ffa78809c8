/**
 * The pixbook: cards owned per collection and series with completion bars and duplicates, this week's
 * drop (claim, open the pack, then verify it from the revealed seed), and pack history. The book itself
 * is created with a signed PIXBOOK_CREATED (offline too); a claim is a relay command, so it needs the
 * relay (and the book on it).
 */
import { claimDrop } from '@pixpax/client-sdk'
import { isoWeekDropId, type Receipt } from '@pixpax/shared'
import { useEffect, useState } from 'preact/hooks'
import { useStore } from '../app/store.js'
import { checkPack, type CatalogJson, type DropJson, type PackCheck } from '../economy/pack-check.js'
import { bookStream, changes, identityState, localReceipts, queued, syncClient, token } from '../identity/identity-session.js'
import { useRelayQuery } from '../social/relay-api.js'

interface BookJson {
  cards: Array<{ collectionId: string | null; cardId: string; count: number; spares: number }>
  completion: Array<{
    collectionId: string
    owned: number
    total: number
    series: Array<{ seriesId: string; owned: number; total: number }>
  }>
  packs: Array<{
    packId: string
    dropId: string | null
    collectionId: string | null
    cards: Array<{ cardId: string }>
    issuedEventId: string
  }>
}

function Bar({ label, owned, total }: { label: string; owned: number; total: number }) {
  return (
    <div class="completion">
      <label>
        {label}: {owned} of {total}
        <progress max={total} value={owned} />
      </label>
    </div>
  )
}

export default function Pixbook() {
  const state = useStore(identityState)
  const tick = useStore(changes)
  const identity = state.identity
  const stream = identity ? bookStream(identity) : undefined
  const [bookReceipts, setBookReceipts] = useState<Receipt[] | undefined>()
  const [opened, setOpened] = useState<Receipt | undefined>()
  const [checks, setChecks] = useState<PackCheck[] | undefined>()
  const [message, setMessage] = useState<string | undefined>()
  const dropId = isoWeekDropId(new Date())

  useEffect(() => {
    if (stream) void localReceipts(stream).then(setBookReceipts)
  }, [stream, tick, state.phase])
  const pendingBook = syncClient()
    ?.pending()
    .some((e) => e.streamKey === stream && e.receipt.type === 'PIXBOOK_CREATED' && e.state !== 'rejected')
  const onRelay = (bookReceipts?.length ?? 0) > 0
  const [accountId, bookId] = stream ? stream.split('/').slice(1) : []
  const book = useRelayQuery<BookJson>(onRelay ? `/v1/pixbooks/${accountId}/${bookId}/collection` : undefined)
  const drop = useRelayQuery<DropJson>(`/v1/drops/${dropId}`)
  const catalog = useRelayQuery<CatalogJson>(drop.data ? `/v1/collections/${drop.data.collectionId}` : undefined)
  const packs = (bookReceipts ?? []).filter((r) => r.type === 'PACK_ISSUED')
  const myDropPack = packs.find((r) => (r.payload.drop as { dropId?: string } | undefined)?.dropId === dropId)
  const artOf = (cardId: string) => catalog.data?.cards.find((c) => c.cardId === cardId)

  const create = async () => {
    const c = syncClient()
    if (!c || !stream) return
    await c.append(stream, 'PIXBOOK_CREATED', { title: `${identity?.displayName ?? 'My'}'s pixbook` })
    queued()
  }
  const claim = async () => {
    setMessage(undefined)
    try {
      const t = await token()
      if (!t) throw new Error('sign in to the relay first (you may be offline)')
      const result = await claimDrop(location.origin, t, dropId, { accountId: accountId!, bookId: bookId! })
      setOpened(result.receipt)
      setChecks(undefined)
    } catch (e) {
      setMessage((e as Error).message)
    }
  }
  const verify = async (pack: Receipt) => {
    if (!drop.data || !catalog.data) return
    setChecks(await checkPack(pack, drop.data, catalog.data))
  }
  const shown = opened ?? myDropPack

  return (
    <section class="screen">
      <h1 tabIndex={-1}>Pixbook</h1>
      {!onRelay ? (
        pendingBook ? (
          <p class="badge-pending">Your pixbook is pending: it is created on the relay as soon as you are online.</p>
        ) : (
          <button type="button" class="primary" onClick={() => void create()} disabled={bookReceipts === undefined}>
            Create my pixbook
          </button>
        )
      ) : null}
      {message ? (
        <p role="alert" class="error">
          {message}
        </p>
      ) : null}

      <section class="panel" aria-labelledby="drop-heading">
        <h2 id="drop-heading">This week's drop</h2>
        {drop.error ? <p>No drop this week ({dropId}).</p> : null}
        {drop.data ? (
          <>
            <p>
              {drop.data.packSize} cards from {drop.data.collectionId} · open until {new Date(drop.data.closesAt).toLocaleString()} ·{' '}
              {drop.data.seed ? 'revealed' : 'seed still secret'}
            </p>
            {!shown ? (
              <button type="button" class="primary" disabled={!onRelay} onClick={() => void claim()}>
                Claim this week's pack
              </button>
            ) : null}
          </>
        ) : null}
        {shown ? (
          <>
            <h3>Your pack</h3>
            <ol class="pack" data-testid="pack" aria-label="Cards in your pack">
              {(shown.payload.cards as Array<{ cardId: string }>).map((c, i) => {
                const art = artOf(c.cardId)
                return (
                  <li class="pack-card" style={{ animationDelay: `${i * 150}ms` }}>
                    {art ? <img class="pixel-art" src={art.artUrl} alt="" width={64} height={64} /> : null}
                    <span>{art?.name ?? c.cardId}</span>
                  </li>
                )
              })}
            </ol>
            <button type="button" onClick={() => void verify(shown)} disabled={!drop.data?.seed}>
              Verify this pack
            </button>
            {!drop.data?.seed ? <p class="hint">The pack can be verified once the drop's seed is revealed.</p> : null}
            {checks ? (
              <ul class="pack-checks" data-testid="pack-checks" data-ok={checks.every((c) => c.ok)}>
                {checks.map((c) => (
                  <li class={c.ok ? 'ok' : 'error'} data-ok={c.ok}>
                    {c.ok ? '✓' : '✗'} {c.step}: <code>{c.detail}</code>
                  </li>
                ))}
              </ul>
            ) : null}
          </>
        ) : null}
      </section>

      {book.data ? (
        <>
          <h2>Completion</h2>
          {book.data.completion.map((c) => (
            <div>
              <Bar label={c.collectionId} owned={c.owned} total={c.total} />
              {c.series.map((s) => (
                <Bar label={`Series ${s.seriesId}`} owned={s.owned} total={s.total} />
              ))}
            </div>
          ))}
          <h2>Cards</h2>
          <ul class="card-grid" data-testid="book-cards">
            {book.data.cards.map((c) => {
              const art = artOf(c.cardId)
              return (
                <li>
                  {art ? <img class="pixel-art" src={art.artUrl} alt="" width={48} height={48} /> : null}
                  {art?.name ?? c.cardId} ×{c.count}
                  {c.spares > 0 ? ` (${c.spares} spare)` : ''}
                </li>
              )
            })}
          </ul>
          <h2>Pack history</h2>
          <ul>
            {book.data.packs.map((p) => (
              <li>
                {p.dropId ?? p.collectionId ?? 'free pack'}: {p.cards.length} cards
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  )
}
