/**
 * The player as a witness (issue item 8, docs/player.md): it countersigns the newest relay checkpoint it
 * verified, with its device key, and the relay serves that cosignature with its checkpoint — so a client
 * that requires the player's cosignature trusts no history the player was not shown.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { verifyCosignatures, witnessName, type PublicJwk } from '@pixpax/shared'
import { nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchStreamJson, http, startTestRelay, type TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { newOwner } from './support/owner.js'
import { startPlayer, type PlayerProcess } from './support/player-process.js'

describe('a player witnesses the relay’s checkpoints', () => {
  let relay: TestRelay
  let root: string
  let player: PlayerProcess | undefined

  beforeAll(async () => {
    relay = await startTestRelay({ db: 'pglite', store: 'fs' })
    root = await mkdtemp(join(tmpdir(), 'pixpax-witness-'))
  }, 60_000)
  afterAll(async () => {
    await player?.kill()
    await relay?.close()
    await rm(root, { recursive: true, force: true })
  })

  it('cosigns a newer checkpoint with its device key; the relay serves the cosignature, and it verifies', async () => {
    player = startPlayer({ RELAY_URL: relay.url, PLAYER_DIR: join(root, 'p'), PLAYER_POLL_MS: '50', PLAYER_WITNESS_MS: '100' })
    const [, deviceId] = await player.waitFor(/^identity: (dev-[0-9a-f]{20})$/)
    // The log grows (another person joins): a checkpoint the player verifies after its identity is known.
    await newOwner(relay.url)
    const [, size] = await player.waitFor(/^cosigned checkpoint (\d+)$/)

    const [created] = await fetchStreamJson(relay.url, `identity/${deviceId!}`)
    expect(created?.type).toBe('IDENTITY_CREATED')
    const witness = { name: witnessName(deviceId!), publicKey: created!.payload.publicKey as PublicJwk }
    // The relay serves its newest checkpoint with the cosignatures it holds for that size. The player's
    // own receipts (registration, heartbeats) may grow the log past the size it cosigned; it cosigns the
    // newer one within PLAYER_WITNESS_MS, so the served checkpoint carries its line once the log is still.
    const deadline = Date.now() + 30_000
    for (;;) {
      const note = await http(`${relay.url}/v1/log/checkpoint`)
      expect(note.status).toBe(200)
      const { checkpoint, cosignatures } = await verifyCosignatures(note.text, [witness], nodeVerifier())
      expect(checkpoint.size).toBeGreaterThanOrEqual(Number(size))
      if (cosignatures.length) {
        expect(cosignatures.map((c) => c.name)).toEqual([witness.name])
        break
      }
      if (Date.now() > deadline) throw new Error(`the served checkpoint (size ${checkpoint.size}) never carried the player's cosignature`)
      await player.waitFor(/^cosigned checkpoint \d+$/, player.lines.length, 30_000)
    }
    expect(await player.stop()).toBe(0)
    player = undefined
  }, 90_000)
})
