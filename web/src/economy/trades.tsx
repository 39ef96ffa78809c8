/**
 * Trades: offer a card instance to another collector's book (a spare first, a wanted card and an expiry
 * optional), and the inbox / outbox with accept, decline and cancel. Every act is a receipt signed here
 * and queued in the outbox (offline too): it shows as pending until the relay accepts it, and the relay
 * decides the rules (the card still ours, the offer still open) when it arrives.
 */
import { acceptTrade, cancelTrade, CounterpartStore, declineTrade, offerCard, type BookTrade, type BookView } from '@pixpax/client-sdk'
import type { Receipt } from '@pixpax/shared'
import { useState } from 'preact/hooks'
import { localLogAndClient, queued } from '../identity/identity-session.js'
import type { BookRef } from './book-data.js'
import { cardOfInstance, parseBookAddress } from './trade-terms.js'

export type CardName = (cardId: string) => string

const EXPIRIES: Array<[string, number | undefined]> = [
  ['Never', undefined],
  ['In 1 hour', 3_600_000],
  ['In 1 day', 86_400_000],
  ['In 1 week', 7 * 86_400_000],
]

function newTradeId(): string {
  return `t-${Array.from(crypto.getRandomValues(new Uint8Array(9)), (b) => b.toString(36).padStart(2, '0')).join('')}`
}

async function run(act: () => Promise<unknown>, fail: (message: string) => void): Promise<void> {
  try {
    await act()
    queued()
  } catch (e) {
    fail((e as Error).message)
  }
}

export function OfferForm(props: {
  book: BookRef
  view: BookView
  name: CardName
  catalog: Array<{ cardId: string; name: string }>
  /** The instance picked from the card detail view. */
  preselect?: string
}) {
  const { book, view, name } = props
  const [instanceId, setInstanceId] = useState(props.preselect ?? '')
  const [to, setTo] = useState('')
  const [want, setWant] = useState('')
  const [expiry, setExpiry] = useState(0)
  const [message, setMessage] = useState<string | undefined>()
  const busy = new Set(view.trades.outbox.filter((t) => t.state === 'open').map((t) => t.cardId))
  // The first instance of each card stays in the book; the others are spares, offered first.
  const seen = new Set<string>()
  const spares: typeof view.instances = []
  const firsts: typeof view.instances = []
  for (const i of view.instances) {
    if (busy.has(i.instanceId)) continue
    ;(seen.has(i.cardId) ? spares : firsts).push(i)
    seen.add(i.cardId)
  }
  const picked = instanceId || props.preselect || spares[0]?.instanceId || firsts[0]?.instanceId || ''

  const submit = (e: Event) => {
    e.preventDefault()
    setMessage(undefined)
    const recipient = parseBookAddress(to)
    if (!recipient) return setMessage('The recipient is a book address like a-abc123/main.')
    const client = localLogAndClient()?.client
    if (!client || !picked) return
    const expiresIn = EXPIRIES[expiry]![1]
    void run(async () => {
      await offerCard(client, book, {
        tradeId: newTradeId(),
        cardId: picked,
        to: recipient,
        ...(want ? { wantCardId: want } : {}),
        ...(expiresIn ? { expiresIn } : {}),
      })
      setTo('')
      setWant('')
    }, setMessage)
  }

  return (
    <form class="offer-form" onSubmit={submit} aria-labelledby="offer-heading">
      <h3 id="offer-heading">Offer a card</h3>
      <label>
        Card to offer
        <select value={picked} onChange={(e) => setInstanceId((e.target as HTMLSelectElement).value)}>
          {spares.length ? (
            <optgroup label="Spares">
              {spares.map((i) => (
                <option value={i.instanceId}>{`${name(i.cardId)} (spare, ${i.instanceId})`}</option>
              ))}
            </optgroup>
          ) : null}
          <optgroup label="Your only copy">
            {firsts.map((i) => (
              <option value={i.instanceId}>{`${name(i.cardId)} (${i.instanceId})`}</option>
            ))}
          </optgroup>
        </select>
      </label>
      <label>
        Recipient's book address
        <input
          value={to}
          autoComplete="off"
          spellcheck={false}
          placeholder="a-…/main"
          onInput={(e) => setTo((e.target as HTMLInputElement).value)}
        />
      </label>
      <label>
        Wanted card in return (optional)
        <select value={want} onChange={(e) => setWant((e.target as HTMLSelectElement).value)}>
          <option value="">Nothing: a gift</option>
          {props.catalog.map((c) => (
            <option value={c.cardId}>{c.name}</option>
          ))}
        </select>
      </label>
      <label>
        Expires
        <select value={String(expiry)} onChange={(e) => setExpiry(Number((e.target as HTMLSelectElement).value))}>
          {EXPIRIES.map(([label], i) => (
            <option value={String(i)}>{label}</option>
          ))}
        </select>
      </label>
      <button type="submit" class="primary" disabled={!picked || !to.trim()}>
        Offer card
      </button>
      {message ? (
        <p role="alert" class="error">
          {message}
        </p>
      ) : null}
    </form>
  )
}

/** The offer receipt of an inbox trade, as kept (verified) with the book's counterparts. */
async function offerReceipt(book: BookRef, trade: BookTrade): Promise<Receipt> {
  const log = localLogAndClient()?.log
  const kept = log ? await new CounterpartStore(log).list(book) : []
  const found = kept.find((c) => c.receipt.eventId === trade.offerEventId)
  if (!found) throw new Error('the offer is not kept on this device yet: go online once to fetch it')
  return found.receipt
}

function TradeRow(props: { book: BookRef; view: BookView; trade: BookTrade; inbox: boolean; pending: boolean; name: CardName }) {
  const { book, view, trade, inbox, name } = props
  const [message, setMessage] = useState<string | undefined>()
  const mine = view.instances.filter((i) => i.cardId === trade.wantCardId)
  const [give, setGive] = useState('')
  const giveId = give || mine[0]?.instanceId || ''
  const offered = cardOfInstance(view, trade.cardId)
  const client = localLogAndClient()?.client
  const who = inbox ? `from ${trade.from.accountId}/${trade.from.bookId}` : `to ${trade.to.accountId}/${trade.to.bookId}`
  const open = trade.state === 'open' && !props.pending
  return (
    <li class="trade" data-state={props.pending ? 'pending' : trade.state} data-trade={trade.tradeId}>
      <span>
        {name(offered)} <small>({trade.cardId})</small> {who}
        {trade.wantCardId ? ` · wants ${name(trade.wantCardId)}` : ' · a gift'}
        {trade.expiresAt ? ` · expires ${new Date(trade.expiresAt).toLocaleString()}` : ''}
      </span>
      <span class={`trade-state ${props.pending ? 'badge-pending' : ''}`}>{props.pending ? 'pending' : trade.state}</span>
      {open && client && inbox ? (
        <span class="trade-actions">
          {trade.wantCardId ? (
            <select aria-label="Card to give" value={giveId} onChange={(e) => setGive((e.target as HTMLSelectElement).value)}>
              {mine.map((i) => (
                <option value={i.instanceId}>{i.instanceId}</option>
              ))}
            </select>
          ) : null}
          <button
            type="button"
            class="primary"
            disabled={trade.wantCardId !== null && !giveId}
            onClick={() =>
              void run(
                async () => acceptTrade(client, book, await offerReceipt(book, trade), trade.wantCardId ? giveId : undefined),
                setMessage,
              )
            }
          >
            Accept
          </button>
          <button
            type="button"
            onClick={() => void run(async () => declineTrade(client, book, await offerReceipt(book, trade)), setMessage)}
          >
            Decline
          </button>
        </span>
      ) : null}
      {open && client && !inbox ? (
        <button type="button" onClick={() => void run(() => cancelTrade(client, book, trade.tradeId), setMessage)}>
          Cancel offer
        </button>
      ) : null}
      {message ? (
        <p role="alert" class="error">
          {message}
        </p>
      ) : null}
    </li>
  )
}

export function TradeLists(props: {
  book: BookRef
  view: BookView
  /** Trade ids answered or cancelled by a receipt still in the outbox. */
  pendingTrades: Set<string>
  name: CardName
}) {
  const { view } = props
  const list = (trades: BookTrade[], inbox: boolean, label: string, testId: string) => (
    <>
      <h3>{label}</h3>
      {trades.length ? (
        <ul class="trades" data-testid={testId}>
          {trades.map((t) => (
            <TradeRow {...props} trade={t} inbox={inbox} pending={props.pendingTrades.has(t.tradeId)} />
          ))}
        </ul>
      ) : (
        <p class="hint">None.</p>
      )}
    </>
  )
  // Open (or expired, still unanswered) trades here; the decided ones in the trade history.
  const live = (t: BookTrade) => t.state === 'open' || t.state === 'expired'
  const closed = [...view.trades.inbox.map((t) => ({ t, inbox: true })), ...view.trades.outbox.map((t) => ({ t, inbox: false }))].filter(
    ({ t }) => !live(t),
  )
  return (
    <>
      {list(view.trades.inbox.filter(live), true, 'Offers to you', 'trade-inbox')}
      {list(view.trades.outbox.filter(live), false, 'Your offers', 'trade-outbox')}
      <h3>Trade history</h3>
      {closed.length ? (
        <ul class="trades" data-testid="trade-history">
          {closed.map(({ t, inbox }) => (
            <TradeRow {...props} trade={t} inbox={inbox} pending={false} />
          ))}
        </ul>
      ) : (
        <p class="hint">No trades yet.</p>
      )}
    </>
  )
}
