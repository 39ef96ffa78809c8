/**
 * The integrator takes the leaves its own appender committed from memory (LogIntegrator.sequenced) and
 * reads from log_leaves only the others (another replica's, or everything after a restart): the
 * checkpoint must be the same as if every leaf had been read back.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateJwk, leafData, leafHash, merkleRoot, base64Encode } from '@pixpax/shared'
import { nodeSha256, nodeSigner } from '@pixpax/shared/node'
import { afterEach, describe, expect, it } from 'vitest'
import { RELAY_MIGRATIONS } from '../src/context.js'
import { migrate } from '../src/db/migrate.js'
import { PgliteDb } from '../src/db/pglite-db.js'
import { LogIntegrator } from '../src/log/log-integrator.js'
import { FsObjectStore } from '../src/stores/fs-object-store.js'

const ORIGIN = 'pixpax.test/log'
const leaves = Array.from({ length: 12 }, (_, i) =>
  leafData({
    eventId: `01J${String(i).padStart(23, '0')}`,
    hash: `sha256:${String(i).repeat(64).slice(0, 64)}`,
    seq: i + 1,
    stream: `identity/i${i}`,
  }),
)
const rootOf = (data: readonly Uint8Array[]) =>
  merkleRoot(
    nodeSha256,
    data.map((d) => leafHash(nodeSha256, d)),
  )

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

async function setup(): Promise<{ db: PgliteDb; log: LogIntegrator; store: FsObjectStore }> {
  const db = await PgliteDb.open()
  await migrate(db, RELAY_MIGRATIONS)
  const dir = await mkdtemp(join(tmpdir(), 'pixpax-leaves-'))
  const store = new FsObjectStore(dir)
  cleanups.push(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })
  const log = new LogIntegrator({ db, store, signer: nodeSigner(generatePrivateJwk()), sha256: nodeSha256, origin: ORIGIN })
  return { db, log, store }
}

/** Sequences leaves [from, to) as a batch would: log_sequence grows, the rows are stored only if `inDb`. */
async function sequence(db: PgliteDb, from: number, to: number, inDb: boolean): Promise<void> {
  await db.query('UPDATE log_sequence SET size = $1', [to])
  if (inDb)
    await db.query('INSERT INTO log_leaves (position, data) SELECT * FROM unnest($1::int8[], $2::bytea[])', [
      Array.from({ length: to - from }, (_, i) => from + i),
      leaves.slice(from, to),
    ])
}

describe('LogIntegrator leaves', () => {
  it('takes held leaves from memory, reads the others from log_leaves, in position order', async () => {
    const { db, log } = await setup()
    // 0..3 another replica's (rows only), 4..8 this process's (held; no rows, so a read of them fails),
    // 9..11 another replica's again.
    await sequence(db, 0, 4, true)
    await sequence(db, 4, 9, false)
    log.sequenced(4, leaves.slice(4, 9))
    await sequence(db, 9, 12, true)
    await log.waitFor(12)
    expect(log.checkpoint!.size).toBe(12)
    expect(base64Encode(log.checkpoint!.root)).toBe(base64Encode(rootOf(leaves)))
  })

  it('forgets held leaves once a checkpoint covers them, and refuses a log with leaves neither held nor stored', async () => {
    const { db, log } = await setup()
    await sequence(db, 0, 3, false)
    log.sequenced(0, leaves.slice(0, 3))
    await log.waitFor(3)
    expect(base64Encode(log.checkpoint!.root)).toBe(base64Encode(rootOf(leaves.slice(0, 3))))
    // Held again below the checkpoint (a late hand-over): ignored.
    log.sequenced(0, leaves.slice(0, 3))
    await sequence(db, 3, 5, false)
    await expect(log.integrate()).rejects.toThrow(/not all in log_leaves/)
    await db.query('INSERT INTO log_leaves (position, data) SELECT * FROM unnest($1::int8[], $2::bytea[])', [[3, 4], leaves.slice(3, 5)])
    await log.waitFor(5)
    expect(base64Encode(log.checkpoint!.root)).toBe(base64Encode(rootOf(leaves.slice(0, 5))))
  })
})
