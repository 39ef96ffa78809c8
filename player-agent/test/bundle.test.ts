/**
 * The bundle `pnpm player` and the systemd unit run (player-agent/scripts/bundle.mjs; docs/player.md,
 * "Memory"): what is in its entry file and what is left for later, that mqtt.js still works from its
 * chunk, and that every way of running it uses the same node flags.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Metafile } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildPlayer, PLAYER_NODE_FLAGS } from '../scripts/bundle.mjs'
import { REPO_ROOT } from './support/player-process.js'

const flags = PLAYER_NODE_FLAGS

describe('the player bundle', () => {
  let out: string
  let meta: Metafile
  const entry = () => Object.entries(meta.outputs).find(([path]) => path.endsWith('/player.mjs'))!
  const chunkOf = (module: RegExp) => Object.entries(meta.outputs).find(([, o]) => Object.keys(o.inputs).some((i) => module.test(i)))

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'pixpax-bundle-'))
    meta = (await buildPlayer({ outdir: out, metafile: true })).metafile
  }, 60_000)
  afterAll(() => rm(out, { recursive: true, force: true }))

  it('loads no mqtt.js, Dexie, Automerge or translated zod messages at start, and keeps its source one byte a character', async () => {
    const [path, output] = entry()
    const inputs = Object.keys(output.inputs)
    expect(inputs.some((i) => i.includes('node_modules/.pnpm/mqtt@'))).toBe(false)
    expect(inputs.some((i) => /node_modules\/\.pnpm\/(dexie|@automerge)/.test(i))).toBe(false)
    expect(inputs.filter((i) => /zod\/v4\/locales\/[a-z-]+\.js$/i.test(i)).map((i) => i.split('/').at(-1))).toEqual(['en.js'])
    // What the entry file imports before it runs: node built-ins and the chunks it shares, never the mqtt one.
    const mqttChunk = chunkOf(/node_modules\/\.pnpm\/mqtt@/)
    expect(mqttChunk).toBeDefined()
    expect(output.imports.filter((i) => !i.external && i.kind === 'import-statement').map((i) => i.path)).not.toContain(mqttChunk![0])
    expect(output.imports.some((i) => i.kind === 'dynamic-import' && i.path === mqttChunk![0])).toBe(true)
    const source = await readFile(join(REPO_ROOT, path))
    expect(source.every((b) => b < 0x80)).toBe(true)
  })

  it('mqtt.js runs from its chunk: a connection to a closed port is reported, and closes', async () => {
    const [path] = chunkOf(/player-agent\/src\/transport\/mqtt-transport\.ts/)!
    const { MqttTransport } = (await import(
      pathToFileURL(join(REPO_ROOT, path)).href
    )) as typeof import('../src/transport/mqtt-transport.js')
    const warnings: string[] = []
    const refused = new Promise<void>((resolve) => {
      const transport = new MqttTransport({ url: 'mqtt://127.0.0.1:1', username: 'u', password: 'p' }, 'dev-test', {
        command: () => undefined,
        channel: () => undefined,
        status: () => undefined,
        warn: (line) => {
          warnings.push(line)
          void transport.close().then(() => resolve())
        },
      })
    })
    await refused
    expect(warnings[0]).toMatch(/^mqtt: .*ECONNREFUSED/)
  })

  it('runs under the same node flags everywhere: pnpm player, the systemd unit, the bench', async () => {
    expect(flags).toContain('--max-semi-space-size=1')
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts.player).toContain(`exec node ${flags.join(' ')} player-agent/dist/player.mjs`)
    const unit = await readFile(join(REPO_ROOT, 'infra/systemd/pixpax-player.service'), 'utf8')
    expect(unit).toMatch(new RegExp(`^ExecStart=/usr/bin/node ${flags.join(' ')} player-agent/dist/player\\.mjs`, 'm'))
    expect(await readFile(join(REPO_ROOT, 'bench/player-bench.ts'), 'utf8')).toContain('PLAYER_NODE_FLAGS')
  })

  it('the flags are ones this node accepts', () => {
    const run = spawnSync(process.execPath, [...flags, '-e', 'process.exit(0)'], { encoding: 'utf8' })
    expect([run.status, run.stderr]).toEqual([0, ''])
  })
})
