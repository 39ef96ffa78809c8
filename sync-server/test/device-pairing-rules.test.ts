/**
 * The devices domain's rules at receipt acceptance, over real sockets on Postgres and PGlite: a
 * DEVICE_PAIRED posted straight to `POST /v1/receipts` (not through the pair route) is refused for an
 * unknown identity, for an identity that is not a device and beyond 128 devices per account — the same
 * in one batch as one by one; a pairing stream is closed by one DEVICE_UNPAIRED, which frees a place.
 * A rebuild keeps the bindings and an offline replay of the whole log decides the same. The pair route
 * undoes a pairing whose receipt those rules refuse.
 */
import { randomBytes } from 'node:crypto'
import { ChainVerifier, MAX_DEVICES_PER_ACCOUNT, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { relayTrustPolicy } from '../src/app.js'
import { projectionDigest } from '../src/replay/digest.js'
import { rebuild } from '../src/replay/rebuild.js'
import {
  adminQuery,
  appendOk,
  dropSchemas,
  http,
  identityCreated,
  newIdentity,
  openSession,
  postReceipts,
  removeDir,
  startTestRelay,
  storedState,
  StreamWriter,
  uniqueSchema,
  type Identity,
  type ResultJson,
  type TestRelay,
} from './support/relay-harness.js'
import { verdict } from './support/social-fixtures.js'

const PREFIX = `pixpax_device_rules_${randomBytes(4).toString('hex')}`

beforeAll(async () => {
  await adminQuery('SELECT 1')
})
afterAll(async () => {
  await dropSchemas(PREFIX)
})

describe.each(['pg', 'pglite'] as const)('DEVICE_PAIRED rules on %s', (db) => {
  let relay: TestRelay
  let url: string
  const owner = newIdentity(`acct-${randomBytes(4).toString('hex')}`)
  const pairings = new Map<string, StreamWriter>()

  const pairingOf = (deviceIdentityId: string): StreamWriter => {
    let w = pairings.get(deviceIdentityId)
    if (!w) pairings.set(deviceIdentityId, (w = new StreamWriter({ type: 'pairing', accountId: owner.accountId, deviceIdentityId })))
    return w
  }
  const paired = (deviceIdentityId: string): Promise<Receipt> =>
    pairingOf(deviceIdentityId).build('DEVICE_PAIRED', { name: `player ${deviceIdentityId}` }, owner)
  const unpaired = (deviceIdentityId: string): Promise<Receipt> => pairingOf(deviceIdentityId).build('DEVICE_UNPAIRED', {}, owner)

  /** Posts receipts of the owner's pairing streams; accepted ones advance their writer. */
  async function attempt(receipts: Receipt[]): Promise<ResultJson[]> {
    const res = await postReceipts(url, receipts)
    if (!res.json?.results) throw new Error(`POST /v1/receipts ${res.status}: ${res.text.slice(0, 1000)}`)
    res.json.results.forEach((r, i) => {
      if (r.ok) pairingOf(receipts[i]!.stream.deviceIdentityId!).advance(receipts[i]!, r.seq)
    })
    return res.json.results
  }

  async function newDevices(n: number): Promise<Identity[]> {
    const devices = Array.from({ length: n }, () => newIdentity(`devacct-${randomBytes(4).toString('hex')}`, 'device'))
    for (let i = 0; i < n; i += 50) await appendOk(url, await Promise.all(devices.slice(i, i + 50).map((d) => identityCreated(d))))
    return devices
  }

  const bound = async (): Promise<number> =>
    (await relay.deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM device_bindings WHERE account_id = $1', [owner.accountId]))
      .rows[0]!.n

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: uniqueSchema(PREFIX) })
    url = relay.url
    await appendOk(url, [await identityCreated(owner)])
  })
  afterAll(async () => {
    await relay?.close()
    if (relay) await removeDir(relay.options.dataDir)
  })

  it('refuses a binding to an unknown identity or to one that is not a device, storing nothing', async () => {
    const person = newIdentity(`acct-${randomBytes(4).toString('hex')}`)
    await appendOk(url, [await identityCreated(person)])
    const before = await storedState(relay.deps)
    const results = await attempt([await paired('dev-nobody'), await paired(person.identityId)])
    expect(results.map(verdict)).toEqual(['DOMAIN_RULE_VIOLATION:device_unknown', 'DOMAIN_RULE_VIOLATION:not_a_device'])
    expect(results[1]).toMatchObject({ error: { details: { deviceIdentityId: person.identityId, kind: 'person' } } })
    expect(await storedState(relay.deps)).toEqual(before)

    // An identity created earlier in the same batch is known to the receipt after it.
    const fresh = newIdentity(`devacct-${randomBytes(4).toString('hex')}`, 'device')
    const res = await postReceipts(url, [await identityCreated(fresh), await paired(fresh.identityId)])
    expect(res.json.results!.map(verdict)).toEqual(['accepted', 'accepted'])
    expect(await bound()).toBe(1)
  })

  it(`holds an account to ${MAX_DEVICES_PER_ACCOUNT} bound devices, in one batch as one by one; unpairing frees a place once`, async () => {
    const already = await bound()
    const devices = await newDevices(MAX_DEVICES_PER_ACCOUNT - already + 2)
    const fill = devices.slice(0, MAX_DEVICES_PER_ACCOUNT - already - 1)
    for (let i = 0; i < fill.length; i += 50) {
      const results = await attempt(await Promise.all(fill.slice(i, i + 50).map((d) => paired(d.identityId))))
      expect(results.every((r) => r.ok)).toBe(true)
    }
    expect(await bound()).toBe(MAX_DEVICES_PER_ACCOUNT - 1)

    // One place left: of two in one batch the second is refused, decided on the first's record.
    const [last, extra, spare] = devices.slice(-3) as [Identity, Identity, Identity]
    const before = await storedState(relay.deps)
    const batch = await attempt([await paired(last.identityId), await paired(extra.identityId)])
    expect(batch.map(verdict)).toEqual(['accepted', 'DOMAIN_RULE_VIOLATION:device_limit'])
    expect(batch[1]).toMatchObject({ error: { details: { limit: MAX_DEVICES_PER_ACCOUNT } } })
    expect(await bound()).toBe(MAX_DEVICES_PER_ACCOUNT)
    const full = await storedState(relay.deps)
    expect((await attempt([await paired(extra.identityId)])).map(verdict)).toEqual(['DOMAIN_RULE_VIOLATION:device_limit'])
    expect(await storedState(relay.deps)).toEqual(full)
    expect(full).not.toEqual(before)

    // Unpairing closes the stream and frees one place; a second unpairing of it is refused.
    const [unpair] = await attempt([await unpaired(fill[0]!.identityId)])
    expect(unpair!.ok).toBe(true)
    expect((await attempt([await unpaired(fill[0]!.identityId)])).map(verdict)).toEqual(['STREAM_RULE_VIOLATION'])
    expect((await attempt([await paired(extra.identityId), await paired(spare.identityId)])).map(verdict)).toEqual([
      'accepted',
      'DOMAIN_RULE_VIOLATION:device_limit',
    ])
    expect(await bound()).toBe(MAX_DEVICES_PER_ACCOUNT)
    // Another account is not affected by this one's count.
    const other = newIdentity(`acct-${randomBytes(4).toString('hex')}`)
    await appendOk(url, [await identityCreated(other)])
    const elsewhere = new StreamWriter({ type: 'pairing', accountId: other.accountId, deviceIdentityId: spare.identityId })
    expect(
      (await postReceipts(url, [await elsewhere.build('DEVICE_PAIRED', { name: 'spare' }, other)])).json.results!.map(verdict),
    ).toEqual(['accepted'])
  }, 60_000)

  it('the pair route undoes a pairing whose receipt the rules refuse', async () => {
    // The owner's account is full of receipt-bound devices; the relay state (device_pairings) is empty.
    const key = await http<{ publicKey: Record<string, string> }>(`${url}/v1/identities/${owner.identityId}/custodial-key`, {
      headers: { authorization: `Bearer ${await openSession(url, owner)}` },
    })
    expect(key.status, key.text).toBe(200)
    const identity = new StreamWriter({ type: 'identity', identityId: owner.identityId })
    const head = await http<{ eventId: string; hash: string }>(`${url}/v1/streams/head?key=identity/${owner.identityId}`)
    identity.advance(head.json, 1)
    await appendOk(url, [await identity.build('KEY_ADDED', { publicKey: key.json.publicKey }, owner)])

    const [device] = await newDevices(1)
    const deviceToken = await openSession(url, device!)
    const code = await http<{ code: string }>(`${url}/v1/devices/pairing-code`, {
      method: 'POST',
      headers: { authorization: `Bearer ${deviceToken}` },
    })
    const res = await http<{ error: { code: string; details: Record<string, unknown> } }>(`${url}/v1/devices/pair`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await openSession(url, owner)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code: code.json.code, name: 'one too many' }),
    })
    expect(res.status, res.text).toBe(422)
    expect(res.json.error).toMatchObject({ code: 'DOMAIN_RULE_VIOLATION', details: { rule: 'device_limit' } })
    const self = await http<{ paired: boolean }>(`${url}/v1/devices/self`, { headers: { authorization: `Bearer ${deviceToken}` } })
    expect(self.json.paired).toBe(false)
  })

  it('a rebuild keeps the bindings and an offline replay of the whole log decides the same', async () => {
    const before = await projectionDigest(relay.deps.db)
    expect(before.tables.device_bindings!.rows).toBe(MAX_DEVICES_PER_ACCOUNT + 1)
    const policy = relayTrustPolicy(relay.config)
    await rebuild({ db: relay.deps.db, store: relay.deps.store, sha256: nodeSha256, verifier: nodeVerifier(), policy })
    expect(await projectionDigest(relay.deps.db)).toEqual(before)

    const rows = await relay.deps.db.query<{ body: string }>('SELECT body FROM receipts ORDER BY position')
    const chain = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256, crossStream: true })
    for (const { body } of rows.rows) {
      const v = await chain.add(body)
      expect(v.ok, JSON.stringify(v)).toBe(true)
    }
    // The offline verifier refuses what the relay refused, from the facts of the log alone.
    const refusedAgain = await chain.add(JSON.stringify(await paired('dev-nobody')))
    expect(refusedAgain).toMatchObject({ ok: false, code: 'DOMAIN_RULE_VIOLATION' })
  })
})
