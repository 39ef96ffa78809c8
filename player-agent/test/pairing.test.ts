/**
 * Pairing end to end over a real relay on a real socket: the player (a child process) creates its key
 * and identity, prints its code; an independent owner client pairs it; the player prints `paired`.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchStreamJson, http, startTestRelay, type TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { newOwner } from './support/owner.js'
import { startPlayer, type PlayerProcess } from './support/player-process.js'

const CODE = /^PAIRING CODE: ([23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6})$/

describe('pairing a player', () => {
  let relay: TestRelay
  let root: string
  const players: PlayerProcess[] = []
  const player = (name: string, env: Record<string, string> = {}) => {
    const p = startPlayer({ RELAY_URL: relay.url, PLAYER_DIR: join(root, name), PLAYER_POLL_MS: '50', ...env })
    players.push(p)
    return p
  }

  beforeAll(async () => {
    relay = await startTestRelay({ db: 'pglite', store: 'fs' })
    root = await mkdtemp(join(tmpdir(), 'pixpax-player-'))
  }, 60_000)
  afterAll(async () => {
    await Promise.all(players.map((p) => p.kill()))
    await relay?.close()
    await rm(root, { recursive: true, force: true })
  })

  it('prints one code and its identity, pairs with an owner session, prints paired; the binding is owner-signed', async () => {
    const owner = await newOwner(relay.url)
    await owner.registerCustodialKey()
    const p = player('p1', { PLAYER_PAIRED_CHECK_MS: '100' })
    const [, code] = await p.waitFor(CODE)
    const [, identityId] = await p.waitFor(/^identity: (dev-[0-9a-f]{20})$/)
    expect(p.lines.indexOf(`PAIRING CODE: ${code}`)).toBeLessThan(p.lines.indexOf(`identity: ${identityId}`))
    expect(((await stat(join(root, 'p1', 'keys', `${identityId}.jwk`))).mode & 0o777).toString(8)).toBe('600')

    const paired = await owner.pair(code!.toLowerCase(), 'Kitchen')
    expect(paired.status, paired.text).toBe(200)
    expect(paired.json).toMatchObject({ deviceIdentityId: identityId, accountId: owner.who.accountId, name: 'Kitchen' })
    await p.waitFor(/^paired$/)
    expect(p.lines.filter((l) => CODE.test(l))).toHaveLength(1)

    // The binding: DEVICE_PAIRED in pairing/{account}/{device}, issued by the owner.
    const receipts = await fetchStreamJson(relay.url, `pairing/${owner.who.accountId}/${identityId}`, 100, owner.token)
    expect(receipts.map((r) => [r.type, r.issuer.identityId, r.payload])).toEqual([
      ['DEVICE_PAIRED', owner.who.identityId, { name: 'Kitchen' }],
    ])

    // A code is single use.
    const again = await owner.pair(code!, 'Again')
    expect(again.status).toBe(404)
    expect(again.json).toMatchObject({ error: { code: 'NOT_FOUND', details: { reason: 'PAIRING_CODE_INVALID' } } })

    // The owner sees it, online once a heartbeat lands.
    const list = await owner.devices()
    expect(list.status).toBe(200)
    expect(list.json.devices.map((d) => d.deviceIdentityId)).toEqual([identityId])

    // Unpairing: the player notices, drops its pairing and shows a new code.
    const from = p.lines.length
    const unpaired = await owner.unpair(identityId!)
    expect(unpaired.status, unpaired.text).toBe(200)
    expect((await owner.devices()).json.devices).toEqual([])
    await p.waitFor(/^unpaired$/, from)
    const [, fresh] = await p.waitFor(CODE, from)
    expect(fresh).not.toBe(code)
    expect(await p.stop()).toBe(0)
    expect(p.lines.slice(from)).toContain('stopped')
  }, 90_000)

  it('refuses bad pairing requests with the envelope: no session, a device session, a wrong code, a blank name', async () => {
    const owner = await newOwner(relay.url)
    const noSession = await http(`${relay.url}/v1/devices/pair`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'ABCDEF', name: 'x' }),
    })
    expect(noSession.status).toBe(401)
    expect(noSession.json).toMatchObject({ error: { code: 'UNAUTHENTICATED' } })
    const wrong = await owner.pair('ZZZZZZ', 'x')
    expect(wrong.status).toBe(404)
    const extra = await http(`${relay.url}/v1/devices/pair`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ code: 'ABCDEF', name: 'x', admin: true }),
    })
    expect(extra.status).toBe(400)
    expect(extra.json).toMatchObject({ error: { code: 'SCHEMA_INVALID' } })
  })
})
