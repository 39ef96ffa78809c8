/**
 * The pixbook: cards owned per collection and series with completion bars and duplicates, a card's
 * detail, this week's drop (claim, open the pack, then verify it from the revealed seed), printed codes,
 * trades (offer, inbox / outbox, accept / decline / cancel) and pack and trade history. The book is
 * computed on this device (economy/book-data.ts: the SDK's bookView over the verified local log and the
 * kept counterpart receipts), so it shows offline; a write not yet accepted by the relay shows pending.
 * The book itself is created with a signed PIXBOOK_CREATED (offline too); a claim and a code are relay
 * commands, so they need the relay (and the book on it).
 */
import { claimDrop } from '@pixpax/client-sdk'
import { isoWeekDropId, type Receipt } from '@pixpax/shared'
import { useEffect, useState } from 'preact/hooks'
import { useStore } from '../app/store.js'
import { checkPack, type CatalogJson, type DropJson, type PackCheck } from '../economy/pack-check.js'
import { bookStream, changes, identityState, localReceipts, queued, syncClient, token } from '../identity/identity-session.js'
import { useRelayQuery } from '../social/relay-api.js'
import { useBook, type BookData } from '../economy/book-data.js'
import { CodeRedeem } from '../economy/code-redeem.js'
import { OfferForm, TradeLists } from '../economy/trades.js'
import '../economy/pixbook.css'

const PENDING_LABEL: Record<string, string> = {
  CARD_TRADE_OFFERED: 'offer',
  CARD_TRADE_ACCEPTED: 'acceptance',
  CARD_TRADE_DECLINED: 'decline',
  CARD_TRADE_CANCELLED: 'cancel',
  CARD_REMOVED: 'burn',
  PIXBOOK_CREATED: 'book creation',
}

/** Our book receipts still in the outbox: shown at once, marked pending (or refused, with the reason). */
function PendingList({ data }: { data: BookData }) {
  if (!data.pending.length) return null
  return (
    <section class="panel" aria-labelledby="pending-heading">
      <h2 id="pending-heading">Waiting for the relay</h2>
      <ul data-testid="book-pending">
        {data.pending.map((e) => (
          <li class={e.state === 'rejected' ? 'error' : 'badge-pending'} data-state={e.state}>
            {PENDING_LABEL[e.receipt.type] ?? e.receipt.type}
            {e.receipt.payload.tradeId ? ` of trade ${String(e.receipt.payload.tradeId as string)}` : ''}:{' '}
            {e.state === 'rejected' ? `refused (${e.error?.message ?? e.error?.code ?? 'unknown'})` : 'pending'}
          </li>
        ))}
      </ul>
    </section>
  )
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
  const [detail, setDetail] = useState<string | undefined>()
  const [offerOf, setOfferOf] = useState<string | undefined>()
  const dropId = isoWeekDropId(new Date())

  useEffect(() => {
    if (stream) void localReceipts(stream).then(setBookReceipts)
  }, [stream, tick, state.phase])
  const pendingBook = syncClient()
    ?.pending()
    .some((e) => e.streamKey === stream && e.receipt.type === 'PIXBOOK_CREATED' && e.state !== 'rejected')
  const onRelay = (bookReceipts?.length ?? 0) > 0
  const [accountId, bookId] = stream ? stream.split('/').slice(1) : []
  const ref = accountId && bookId ? { accountId, bookId } : undefined
  const data = useBook(onRelay ? ref : undefined)
  const drop = useRelayQuery<DropJson>(`/v1/drops/${dropId}`)
  const catalog = useRelayQuery<CatalogJson>(drop.data ? `/v1/collections/${drop.data.collectionId}` : undefined)
  const packs = (bookReceipts ?? []).filter((r) => r.type === 'PACK_ISSUED')
  const myDropPack = packs.find((r) => (r.payload.drop as { dropId?: string } | undefined)?.dropId === dropId)
  const artOf = (cardId: string) => catalog.data?.cards.find((c) => c.cardId === cardId)
  const nameOf = (cardId: string) => artOf(cardId)?.name ?? data?.catalog.get(cardId)?.name ?? cardId
  const catalogCards = data ? [...data.catalog.values()] : []
  const pendingTrades = new Set(
    (data?.pending ?? []).filter((e) => e.receipt.type !== 'CARD_TRADE_OFFERED').map((e) => String(e.receipt.payload.tradeId as string)),
  )
  const view = data?.view
  const detailCard = detail ? view?.cards.find((c) => c.cardId === detail) : undefined

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

      {ref && onRelay ? (
        <p class="book-address">
          Your book address (give it to a collector who wants to offer you a card):{' '}
          <code data-testid="book-address">{`${ref.accountId}/${ref.bookId}`}</code>
        </p>
      ) : null}
      {ref && onRelay ? <CodeRedeem book={ref} onRedeemed={() => queued()} /> : null}
      {data?.stale ? (
        <p class="hint" data-testid="book-stale">
          {data.stale}
        </p>
      ) : null}
      {data ? <PendingList data={data} /> : null}

      {view && ref ? (
        <>
          <h2>Completion</h2>
          {view.completion.map((c) => (
            <div>
              <Bar label={c.collectionId} owned={c.owned} total={c.total} />
              {c.series.map((s) => (
                <Bar label={`Series ${s.seriesId}`} owned={s.owned} total={s.total} />
              ))}
            </div>
          ))}
          {data && (data.gaps.instances.length > 0 || data.gaps.collections.length > 0) ? (
            <p class="hint">Some cards are not shown yet: go online once so this device can fetch and verify where they came from.</p>
          ) : null}
          <h2>Cards</h2>
          <ul class="card-grid" data-testid="book-cards">
            {view.cards.map((c) => {
              const art = artOf(c.cardId)
              return (
                <li>
                  <button
                    type="button"
                    class="card-button"
                    aria-pressed={detail === c.cardId}
                    onClick={() => setDetail(detail === c.cardId ? undefined : c.cardId)}
                  >
                    {art ? <img class="pixel-art" src={art.artUrl} alt="" width={48} height={48} /> : null}
                    {nameOf(c.cardId)} ×{c.count}
                    {c.spares > 0 ? ` (${c.spares} spare)` : ''}
                  </button>
                </li>
              )
            })}
          </ul>
          {detailCard ? (
            <section class="panel card-detail" aria-labelledby="card-detail-heading" data-testid="card-detail">
              <h3 id="card-detail-heading">{nameOf(detailCard.cardId)}</h3>
              {artOf(detailCard.cardId) ? (
                <img class="pixel-art" src={artOf(detailCard.cardId)!.artUrl} alt={nameOf(detailCard.cardId)} width={128} height={128} />
              ) : null}
              <p>
                Card {detailCard.cardId} · {detailCard.collectionId ?? 'no collection'}
                {data?.catalog.get(detailCard.cardId) ? ` · series ${data.catalog.get(detailCard.cardId)!.seriesId}` : ''} · you hold{' '}
                {detailCard.count} ({detailCard.spares} spare)
              </p>
              <ul>
                {view.instances
                  .filter((i) => i.cardId === detailCard.cardId)
                  .map((i) => (
                    <li>
                      <code>{i.instanceId}</code> from pack {i.packId}{' '}
                      <button type="button" onClick={() => setOfferOf(i.instanceId)}>
                        Offer this copy
                      </button>
                    </li>
                  ))}
              </ul>
            </section>
          ) : null}

          <section class="panel" aria-labelledby="trades-heading">
            <h2 id="trades-heading">Trades</h2>
            {view.instances.length ? (
              <OfferForm key={offerOf} book={ref} view={view} name={nameOf} catalog={catalogCards} preselect={offerOf} />
            ) : null}
            <TradeLists book={ref} view={view} pendingTrades={pendingTrades} name={nameOf} />
          </section>

          <h2>Pack history</h2>
          <ul data-testid="pack-history">
            {view.packs.map((p) => (
              <li>
                {p.dropId
                  ? `drop ${p.dropId}`
                  : p.packId.startsWith('pc') // codePackId's prefix
                    ? 'printed code'
                    : (p.collectionId ?? 'free pack')}
                : {p.cards.map((c) => nameOf(c.cardId)).join(', ')}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  )
}
