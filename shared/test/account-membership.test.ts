import { describe, expect, it } from 'vitest'
import { buildReceipt, ChainVerifier, generatePrivateJwk, nobleSigner, type Receipt, type Signer } from '../src/index.js'
import { nodeVerifier } from '../src/node/index.js'

async function identity(id: string, accountId: string, signer: Signer): Promise<Receipt> {
  return buildReceipt({
    stream: { type: 'identity', identityId: id },
    type: 'IDENTITY_CREATED',
    payload: { publicKey: signer.publicKey, accountId, kind: 'person' },
    identityId: id,
    signer,
    prev: null,
  })
}

describe('opening a stream inside an account', () => {
  it('needs account membership once the account stream is known, not just a declared accountId', async () => {
    const owner = nobleSigner(generatePrivateJwk())
    const squatter = nobleSigner(generatePrivateJwk())
    const v = new ChainVerifier({ verifier: nodeVerifier() })
    expect((await v.add(await identity('owner', 'acc-1', owner))).ok).toBe(true)
    // The squatter merely declares the same account.
    expect((await v.add(await identity('squatter', 'acc-1', squatter))).ok).toBe(true)
    const account = await buildReceipt({
      stream: { type: 'account', accountId: 'acc-1' },
      type: 'ACCOUNT_CREATED',
      payload: {},
      identityId: 'owner',
      signer: owner,
      prev: null,
    })
    expect((await v.add(account)).ok).toBe(true)
    const squat = await buildReceipt({
      stream: { type: 'pixbook', accountId: 'acc-1', bookId: 'b' },
      type: 'PIXBOOK_CREATED',
      payload: { title: 't' },
      identityId: 'squatter',
      signer: squatter,
      prev: null,
    })
    expect(await v.add(squat)).toMatchObject({ ok: false, code: 'NOT_AUTHORIZED' })
    const mine = await buildReceipt({
      stream: { type: 'pixbook', accountId: 'acc-1', bookId: 'b' },
      type: 'PIXBOOK_CREATED',
      payload: { title: 't' },
      identityId: 'owner',
      signer: owner,
      prev: null,
    })
    expect((await v.add(mine)).ok).toBe(true)
    // Once an owner adds the squatter as a member, it may open books there.
    const added = await buildReceipt({
      stream: { type: 'account', accountId: 'acc-1' },
      type: 'MEMBER_ADDED',
      payload: { identityId: 'squatter', role: 'member' },
      identityId: 'owner',
      signer: owner,
      prev: { eventId: account.eventId, hash: account.hash },
    })
    expect((await v.add(added)).ok).toBe(true)
    const joined = await buildReceipt({
      stream: { type: 'pixbook', accountId: 'acc-1', bookId: 'c' },
      type: 'PIXBOOK_CREATED',
      payload: { title: 't' },
      identityId: 'squatter',
      signer: squatter,
      prev: null,
    })
    expect((await v.add(joined)).ok).toBe(true)
  })
})
