/**
 * Generates a realistic NDJSON export for benchmarks: `identities` people, each with `booksPerIdentity`
 * pixbooks, receipts interleaved across streams the way a relay export lists them (acceptance order).
 */
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { buildReceipt, type ChainHead, type Receipt, type Signer } from '../shared/src/index.js'
import { generatePrivateJwk } from '../shared/src/index.js'
import { nodeSha256, nodeSigner } from '../shared/src/node/index.js'

export interface GeneratedActor {
  identityId: string
  accountId: string
  signer: Signer
}

export async function generateReceipts(
  total: number,
  options: { identities?: number; booksPerIdentity?: number; onReceipt: (r: Receipt) => void | Promise<void> },
): Promise<GeneratedActor[]> {
  const identities = options.identities ?? 10
  const booksPerIdentity = options.booksPerIdentity ?? 10
  const actors: GeneratedActor[] = []
  let written = 0
  const emit = async (r: Receipt) => {
    written++
    await options.onReceipt(r)
  }
  const heads = new Map<string, ChainHead>()
  for (let i = 0; i < identities; i++) {
    const signer = nodeSigner(generatePrivateJwk())
    const actor = { identityId: `bench-identity-${i}`, accountId: `bench-account-${i}`, signer }
    actors.push(actor)
    await emit(
      await buildReceipt({
        stream: { type: 'identity', identityId: actor.identityId },
        type: 'IDENTITY_CREATED',
        payload: { publicKey: signer.publicKey, accountId: actor.accountId, kind: 'person' },
        identityId: actor.identityId,
        signer,
        prev: null,
        sha256: nodeSha256,
      }),
    )
  }
  let n = 0
  while (written < total) {
    const actor = actors[n % identities]!
    const book = Math.floor(n / identities) % booksPerIdentity
    n++
    const key = `${actor.accountId}/${book}`
    const prev = heads.get(key) ?? null
    const r = await buildReceipt({
      stream: { type: 'pixbook', accountId: actor.accountId, bookId: `book-${book}` },
      type: prev ? 'CARD_ADDED' : 'PIXBOOK_CREATED',
      payload: prev ? { cardId: `card-${n}`, artHash: `sha256:${(n % 997).toString(16).padStart(64, '0')}` } : { title: `Book ${book}` },
      identityId: actor.identityId,
      signer: actor.signer,
      prev,
      sha256: nodeSha256,
    })
    heads.set(key, { eventId: r.eventId, hash: r.hash })
    await emit(r)
  }
  return actors
}

/** Writes `total` receipts to an NDJSON file. */
export async function generateNdjsonFile(path: string, total: number): Promise<void> {
  const out = createWriteStream(path)
  await generateReceipts(total, {
    onReceipt: async (r) => {
      if (!out.write(JSON.stringify(r) + '\n')) await once(out, 'drain')
    },
  })
  out.end()
  await once(out, 'finish')
}
