/**
 * What the end-to-end player tests stand on: a relay (PGlite and files, as `pnpm start` runs it), a proxy
 * in front of it that a test can pull, a temp directory for player data, an owner client, and the player
 * processes started — all made in the suite's `beforeAll` and gone in its `afterAll`, whatever failed.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { startTestRelay, type TestRelay } from '../../../sync-server/test/support/relay-harness.js'
import { newOwner, type Owner } from './owner.js'
import type { PlayerProcess } from './player-process.js'
import { startRelayProxy, type RelayProxy } from './relay-proxy.js'

export interface PlayerTestbed {
  relay: TestRelay
  /** The players reach the relay through this (`proxy.url`). */
  proxy: RelayProxy
  /** A fresh temp directory, removed at the end. */
  root: string
  owner: Owner
  /** Players to kill at the end: push every one a test starts. */
  players: PlayerProcess[]
}

/**
 * Registers the suite's `beforeAll`/`afterAll` and returns the testbed they fill: read its fields in
 * later hooks and tests, not at collection time. A suite's own `beforeAll` runs after this one's.
 */
export function usePlayerTestbed(name: string): PlayerTestbed {
  const bed = { players: [] as PlayerProcess[] } as PlayerTestbed
  beforeAll(async () => {
    bed.relay = await startTestRelay({ db: 'pglite', store: 'fs' })
    bed.proxy = await startRelayProxy(bed.relay.url)
    bed.root = await mkdtemp(join(tmpdir(), `pixpax-${name}-`))
    bed.owner = await newOwner(bed.relay.url)
  }, 60_000)
  afterAll(async () => {
    await Promise.all(bed.players.map((p) => p.kill()))
    await bed.proxy?.close()
    await bed.relay?.close()
    if (bed.root) await rm(bed.root, { recursive: true, force: true })
  })
  return bed
}

/**
 * Pairs a freshly started player with `owner`: waits for its code and identity lines, pairs it under
 * `name` through the owner's route, and waits for `paired`. Returns the device's identity id.
 */
export async function pairPlayer(player: PlayerProcess, owner: Owner, name: string): Promise<string> {
  const [, code] = await player.waitFor(/^PAIRING CODE: (\w{6})$/)
  const [, identityId] = await player.waitFor(/^identity: (\S+)$/)
  const paired = await owner.pair(code!, name)
  if (paired.status !== 200) throw new Error(`pairing ${name} failed: ${paired.status} ${paired.text}`)
  await player.waitFor(/^paired$/)
  return identityId!
}
