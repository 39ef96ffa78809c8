/**
 * kill -9 at the worst moments: in the middle of a blob download (the proxy holds the response after
 * half its bytes, so the kill lands mid-download for sure) and with a torn write at the end of the local
 * log. After a restart the cache holds only verified blobs, the log opens, and the player carries on.
 */
import { createHash, randomBytes } from 'node:crypto'
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FileLocalLog } from '@pixpax/client-sdk/node'
import { PNG } from 'pngjs'
import { describe, expect, it } from 'vitest'
import { startPlayer } from './support/player-process.js'
import { until } from './support/relay-proxy.js'
import { pairPlayer, usePlayerTestbed } from './support/testbed.js'

/** A PNG of noise: it does not compress, so it is big enough to be caught mid-download. */
function noisePng(size: number): Uint8Array {
  const png = new PNG({ width: size, height: size })
  randomBytes(size * size * 4).copy(png.data)
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255
  return new Uint8Array(PNG.sync.write(png))
}

describe('a player killed with SIGKILL', () => {
  const bed = usePlayerTestbed('crash')

  it('mid-download leaves no blob under its name; the restart sweeps the partial file and verifies the blob', async () => {
    const bytes = noisePng(256)
    const art = await bed.owner.putBlob(bytes)
    const hex = art.slice(7)
    const list = join(bed.root, 'list.json')
    await writeFile(list, JSON.stringify({ items: [{ artwork: art, durationSeconds: 1 }] }))
    const dir = join(bed.root, 'player')
    const cacheDir = join(dir, 'cache')
    const env = { RELAY_URL: bed.proxy.url, PLAYER_DIR: dir, PLAYER_PLAYLIST: list, PLAYER_POLL_MS: '50', PLAYER_HEARTBEAT_SECONDS: '1' }

    const stall = bed.proxy.stallBlob(hex)
    const first = startPlayer(env)
    bed.players.push(first)
    await pairPlayer(first, bed.owner, 'Crashy')
    await first.waitFor(new RegExp(`^downloading ${art}$`))
    await stall.stalled
    // Half the bytes reached the player: wait until they are in its temp file, then pull the plug.
    await until(async () => {
      const names = await readdir(cacheDir)
      const temp = names.find((n) => n.endsWith('.tmp'))
      return temp && (await stat(join(cacheDir, temp))).size > 0 ? temp : undefined
    }, 'a partial download on disk')
    await first.kill()
    expect(await readdir(cacheDir)).not.toContain(hex)

    stall.release()
    const second = startPlayer(env)
    bed.players.push(second)
    await second.waitFor(/^paired$/)
    await second.waitFor(new RegExp(`^cached ${art}$`))
    await second.waitFor(new RegExp(`^showing ${art}$`))
    const names = await readdir(cacheDir)
    expect(names).toEqual([hex])
    expect(
      createHash('sha256')
        .update(await readFile(join(cacheDir, hex)))
        .digest('hex'),
    ).toBe(hex)
    expect(await second.stop()).toBe(0)
  }, 120_000)

  it('with a torn write at the end of its log, reopens it and keeps its identity, pairing and heartbeats', async () => {
    const dir = join(bed.root, 'player')
    const third = startPlayer({ RELAY_URL: bed.proxy.url, PLAYER_DIR: dir, PLAYER_POLL_MS: '50', PLAYER_HEARTBEAT_SECONDS: '1' })
    bed.players.push(third)
    const [, identityId] = await third.waitFor(/^identity: (\S+)$/)
    await third.waitFor(/^paired$/)
    const heartbeats = async () =>
      (
        await bed.relay.deps.db.query<{ seq: number; idempotency_key: string }>(
          `SELECT seq, idempotency_key FROM receipts WHERE stream_key = $1 ORDER BY seq`,
          [`device/${identityId}`],
        )
      ).rows
    const before = (await heartbeats()).length
    await until(async () => ((await heartbeats()).length > before ? true : undefined), 'a heartbeat from the restarted player')
    await third.kill()
    await (await FileLocalLog.open(join(dir, 'log'))).close()
    // What a power cut in the middle of an append leaves: a line without its end.
    await appendFile(join(dir, 'log', 'outbox.jsonl'), '{"put":{"id":"torn","streamKey":"device/x","rec')
    await appendFile(join(dir, 'log', 'receipts.ndjson'), '{"streamKey":"identity/')

    const fourth = startPlayer({ RELAY_URL: bed.proxy.url, PLAYER_DIR: dir, PLAYER_POLL_MS: '50', PLAYER_HEARTBEAT_SECONDS: '1' })
    bed.players.push(fourth)
    expect((await fourth.waitFor(/^identity: (\S+)$/))[1]).toBe(identityId)
    await fourth.waitFor(/^paired$/)
    const count = (await heartbeats()).length
    const rows = await until(async () => {
      const r = await heartbeats()
      return r.length > count ? r : undefined
    }, 'a heartbeat after the torn write')
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1))
    expect(new Set(rows.map((r) => r.idempotency_key)).size).toBe(rows.length)
    expect(await fourth.stop(), fourth.output()).toBe(0)
  }, 120_000)
})
