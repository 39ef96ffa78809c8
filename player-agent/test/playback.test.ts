/**
 * A paired player playing a static list of art blobs from a real relay: PNG frames appear, a tampered
 * blob is refused (never shown) and reported in its heartbeat, and with the relay stopped the player
 * keeps cycling through its verified cache; the relay back, its queued heartbeats arrive.
 */
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PNG } from 'pngjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { blobKey } from '../../sync-server/src/routes/blobs.js'
import { fetchStreamJson, startTestRelay } from '../../sync-server/test/support/relay-harness.js'
import { newOwner, solidPng } from './support/owner.js'
import { startPlayer, type PlayerProcess } from './support/player-process.js'
import { until } from './support/relay-proxy.js'
import { pairPlayer, usePlayerTestbed } from './support/testbed.js'

describe('a paired player with a static list', () => {
  const bed = usePlayerTestbed('play')
  let player: PlayerProcess
  let red: string
  let green: string
  let tampered: string
  let identityId: string

  beforeAll(async () => {
    red = await bed.owner.putBlob(solidPng(16, [255, 0, 0]))
    green = await bed.owner.putBlob(solidPng(16, [0, 255, 0]))
    // The relay serves other bytes than the hash the list names: a compromised store or a forgery.
    const honest = solidPng(16, [0, 0, 255])
    const hex = createHash('sha256').update(honest).digest('hex')
    tampered = `sha256:${hex}`
    await bed.relay.deps.store.put(blobKey(hex), solidPng(16, [255, 0, 255]), 'application/octet-stream')
    const list = join(bed.root, 'list.json')
    await writeFile(list, JSON.stringify({ items: [red, tampered, green].map((artwork) => ({ artwork, durationSeconds: 1 })) }))
    player = startPlayer({
      RELAY_URL: bed.proxy.url,
      PLAYER_DIR: join(bed.root, 'player'),
      PLAYER_PLAYLIST: list,
      PLAYER_POLL_MS: '50',
      PLAYER_HEARTBEAT_SECONDS: '1',
    })
    bed.players.push(player)
    identityId = await pairPlayer(player, bed.owner, 'Hall')
  }, 90_000)

  const frame = async () => {
    const dir = join(bed.root, 'player', 'display')
    const meta = JSON.parse(await readFile(join(dir, 'frame.json'), 'utf8')) as { artwork: string; sequence: number }
    const png = PNG.sync.read(await readFile(join(dir, 'frame.png')))
    return { meta, pixel: Array.from(png.data.subarray(0, 4)), size: [png.width, png.height] }
  }

  it('downloads and verifies each blob, shows the good ones as PNG frames, refuses the tampered one', async () => {
    await player.waitFor(new RegExp(`^cached ${red}$`))
    await player.waitFor(new RegExp(`^cached ${green}$`))
    await player.waitFor(new RegExp(`^refused ${tampered} HASH_MISMATCH$`))
    await player.waitFor(new RegExp(`^showing ${red}$`))
    await player.waitFor(new RegExp(`^showing ${green}$`))
    // Frames on disk are whole PNGs of verified art: sample until each good artwork was seen with its pixels.
    const colours = new Map([
      [red, [255, 0, 0, 255]],
      [green, [0, 255, 0, 255]],
    ])
    const seen = new Set<string>()
    await until(async () => {
      const shown = await frame()
      expect(shown.size).toEqual([16, 16])
      expect([
        [255, 0, 0, 255],
        [0, 255, 0, 255],
      ]).toContainEqual(shown.pixel)
      if (JSON.stringify(colours.get(shown.meta.artwork)) === JSON.stringify(shown.pixel)) seen.add(shown.meta.artwork)
      return seen.size === 2 ? true : undefined
    }, 'both good artworks on the PNG display')
    expect(player.lines.some((l) => l.startsWith('showing') && l.includes(tampered))).toBe(false)
    // Nothing of the tampered blob was kept.
    await expect(readFile(join(bed.root, 'player', 'cache', tampered.slice(7)))).rejects.toThrow(/ENOENT/)
  }, 60_000)

  it('reports status and the refusal in DEVICE_STATUS heartbeats; the owner sees it online with its artwork', async () => {
    let last: unknown
    const device = await until(
      async () => {
        const list = await bed.owner.devices()
        const d = list.json.devices.find((x) => x.deviceIdentityId === identityId)
        last = list.json
        return d?.online === true && d.artwork ? d : undefined
      },
      'an online device with artwork',
      30_000,
      () => JSON.stringify(last) + player.output().replace(/^(showing|downloading).*\n/gm, ''),
    )
    expect([red, green]).toContain(device.artwork)
    expect(device.capabilities).toMatchObject({ display: 'png', maxWidth: 256, animation: true })
    // The device stream (its reports and its answers to commands) is readable by the paired account only.
    const statuses = await fetchStreamJson(bed.relay.url, `device/${identityId}`, 1000, bed.owner.token)
    expect(statuses[0]!.type).toBe('DEVICE_REGISTERED')
    const stranger = await newOwner(bed.relay.url)
    await expect(fetchStreamJson(bed.relay.url, `device/${identityId}`, 1000, stranger.token)).rejects.toThrow(/403/)
    const refusedReported = await until(async () => {
      const rows = await bed.relay.deps.db.query<{ body: string }>(
        `SELECT body FROM receipts WHERE stream_key = $1 AND type = 'DEVICE_STATUS'`,
        [`device/${identityId}`],
      )
      return rows.rows.find((r) => r.body.includes(tampered))
    }, 'a heartbeat naming the refused blob')
    expect((JSON.parse(refusedReported.body) as { payload: { refused: string[] } }).payload.refused).toEqual([tampered])
  }, 60_000)

  it('keeps playing from the cache with the relay stopped, and delivers queued heartbeats once it is back', async () => {
    const from = player.lines.length
    await bed.relay.close()
    await player.waitFor(/^relay offline$/, from)
    const offlineAt = player.lines.length
    await player.waitFor(new RegExp(`^showing ${red}$`), offlineAt)
    await player.waitFor(new RegExp(`^showing ${green}$`), offlineAt)
    const shown = await frame()
    expect([red, green]).toContain(shown.meta.artwork)
    expect([
      [255, 0, 0, 255],
      [0, 255, 0, 255],
    ]).toContainEqual(shown.pixel)

    bed.relay = await startTestRelay(bed.relay.options)
    bed.proxy.retarget(bed.relay.url)
    await player.waitFor(/^relay online$/, offlineAt)
    const rows = await until(async () => {
      const r = await bed.relay.deps.db.query<{ seq: number; idempotency_key: string; body: string }>(
        'SELECT seq, idempotency_key, body FROM receipts WHERE stream_key = $1 ORDER BY seq',
        [`device/${identityId}`],
      )
      const offline = r.rows.filter((x) => (JSON.parse(x.body) as { payload: { online: boolean } }).payload.online === false)
      return offline.length > 0 ? r.rows : undefined
    }, 'heartbeats written while offline')
    // Exactly once: no idempotency key twice, seqs contiguous.
    expect(new Set(rows.map((r) => r.idempotency_key)).size).toBe(rows.length)
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1))
    expect(await player.stop(), player.output()).toBe(0)
  }, 90_000)
})
