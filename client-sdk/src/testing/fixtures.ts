/**
 * Real protocol objects for tests: chains of signed receipts built with `buildReceipt`, acks signed the
 * way the relay signs them, outbox and quarantine entries. Isomorphic (WebCrypto signers by default), so
 * the same suites can run in a browser.
 */
import {
  buildReceipt,
  canonicalBytes,
  formatSignature,
  generateWebCryptoKeyPair,
  streamKey as streamKeyOf,
  webCryptoSigner,
  type Receipt,
  type Signer,
  type StreamRef,
} from '@pixpax/shared'
import type { Ack, LoggedReceipt, OutboxEntry, QuarantineEntry } from '../storage/local-log.js'

/** A fresh P-256 signer (WebCrypto; in Node as fast as node:crypto for signing). */
export async function testSigner(): Promise<Signer> {
  const { privateKey, publicKey } = await generateWebCryptoKeyPair(false)
  return webCryptoSigner(privateKey, publicKey)
}

let defaultSigner: Promise<Signer> | undefined
const sharedSigner = (): Promise<Signer> => (defaultSigner ??= testSigner())

/** The self-signed IDENTITY_CREATED of a person identity (default alice of acc-1) under `signer`. */
export function identityCreatedBy(signer: Signer, identityId = 'alice', accountId = 'acc-1'): Promise<Receipt> {
  return buildReceipt({
    stream: { type: 'identity', identityId },
    type: 'IDENTITY_CREATED',
    payload: { publicKey: signer.publicKey, accountId, kind: 'person' },
    identityId,
    signer,
    prev: null,
  })
}

/** Options of `buildChain`. */
export interface BuildChainOptions {
  /** How many receipts to build. */
  count: number
  /** Continue this stream after this entry (its `seq + 1` onwards) instead of starting a new pixbook. */
  after?: LoggedReceipt
  /** The pixbook to start (ignored with `after`): `pixbook/{accountId}/{bookId}`. Defaults acc-1 / book-1. */
  accountId?: string
  bookId?: string
  /** The issuing identity; default `alice`. */
  identityId?: string
  /** Signs the receipts; default a signer shared by every call in this module. */
  signer?: Signer
  /** When given, every entry carries an ack signed by this relay key. */
  relay?: Signer
}

/**
 * `count` chained receipts of one pixbook stream as LoggedReceipts: a PIXBOOK_CREATED (unless
 * continuing `after`) followed by CARD_ADDED receipts, each signed, with seq numbers from 1 (or after
 * `after.seq`). About 5,000 receipts a second on Node.
 */
export async function buildChain(options: BuildChainOptions): Promise<LoggedReceipt[]> {
  const signer = options.signer ?? (await sharedSigner())
  const identityId = options.identityId ?? 'alice'
  const stream: StreamRef = options.after
    ? options.after.receipt.stream
    : { type: 'pixbook', accountId: options.accountId ?? 'acc-1', bookId: options.bookId ?? 'book-1' }
  const key = streamKeyOf(stream)
  const out: LoggedReceipt[] = []
  let prev: Receipt | null = options.after?.receipt ?? null
  let seq = options.after?.seq ?? 0
  for (let i = 0; i < options.count; i++) {
    seq++
    const receipt = await buildReceipt({
      stream,
      type: prev === null ? 'PIXBOOK_CREATED' : 'CARD_ADDED',
      payload:
        prev === null ? { title: `Book ${key}` } : { cardId: `card-${seq}`, artHash: `sha256:${seq.toString(16).padStart(64, '0')}` },
      identityId,
      signer,
      prev,
    })
    const entry: LoggedReceipt = { streamKey: key, seq, receipt }
    if (options.relay) entry.ack = await signAck(options.relay, entry)
    out.push(entry)
    prev = receipt
  }
  return out
}

/** The relay's ack of a logged receipt, signed like a receipt (JCS bytes without `signature`). */
export async function signAck(
  relay: Signer,
  entry: Pick<LoggedReceipt, 'streamKey' | 'seq' | 'receipt'> & { position?: number },
): Promise<Ack> {
  const body = {
    stream: entry.streamKey,
    seq: entry.seq,
    position: entry.position ?? entry.seq - 1,
    eventId: entry.receipt.eventId,
    hash: entry.receipt.hash,
    relayKeyId: relay.publicKeyId,
  }
  return { ...body, signature: formatSignature(await relay.sign(canonicalBytes(body))) }
}

/** An outbox entry for `receipt` (queued, no attempts), with `overrides`. */
export function outboxEntry(receipt: Receipt, overrides: Partial<OutboxEntry> = {}): OutboxEntry {
  return {
    id: receipt.eventId,
    streamKey: streamKeyOf(receipt.stream),
    receipt,
    state: 'queued',
    attempts: 0,
    nextAttemptAt: 0,
    createdAt: Date.parse(receipt.createdAt),
    ...overrides,
  }
}

/** A quarantine entry for some received text, with `overrides`. */
export function quarantineEntry(overrides: Partial<QuarantineEntry> & Pick<QuarantineEntry, 'id'>): QuarantineEntry {
  return { raw: '{"not":"a receipt"}', code: 'SCHEMA_INVALID', message: 'missing eventId', at: 1_700_000_000_000, ...overrides }
}
