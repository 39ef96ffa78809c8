/**
 * `pnpm bench [part…]` — prints figures and writes them to bench/results/<part>.json. Parts: shared
 * (receipt core), relay (ingest, rebuild, latency), sync (catch-up, fan-out), media (image uploads), social (feeds
 * and search at scale), economy (drop claims at 1,000 collectors, supply conservation over 1M card instances), web (the PWA in Chromium:
 * cold load, shell JavaScript, catch-up in the page, drawing latency).
 * With no argument,
 * all parts run.
 */
import { cpus } from 'node:os'
import { runEconomyBench } from './economy-bench.js'
import { runMediaBench } from './media-bench.js'
import { runRelayBench } from './relay-bench.js'
import { runSharedBench } from './shared-bench.js'
import { runSocialBench } from './social-bench.js'
import { runSyncBench } from './sync-bench.js'
import { runWebBench } from './web-bench.js'
import { writeResult } from './support.js'

const parts: Record<string, () => Promise<Record<string, unknown>>> = {
  shared: runSharedBench,
  sync: runSyncBench,
  relay: runRelayBench,
  media: runMediaBench,
  social: runSocialBench,
  economy: runEconomyBench,
  web: runWebBench,
}

const wanted = process.argv.slice(2)
const unknown = wanted.filter((p) => !(p in parts))
if (unknown.length) {
  console.error(`unknown bench part(s): ${unknown.join(', ')}; known: ${Object.keys(parts).join(', ')}`)
  process.exit(2)
}
const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, date: new Date().toISOString() }
console.log(`PixPax benchmarks — node ${machine.node}, ${machine.cpus} cores (${machine.cpu})`)
for (const name of wanted.length ? wanted : Object.keys(parts)) {
  const result = await parts[name]!()
  console.log(`  → ${writeResult(name, { machine, ...result })}`)
}
