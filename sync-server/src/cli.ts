/**
 * `pnpm --silent relay <command>` — operations on the object store and the projection, with the same
 * configuration (environment) as the relay:
 *   rebuild       drop every projection and replay the object store (prints the digest before and after)
 *   verify-store  re-verify every stored chain; counts problems by code (exit 1 if any)
 *   repair        settle crashed appends and project every stored receipt past its projector offset
 *   digest        the hash of the projection tables' rows in a fixed order
 */
import { relayTrustPolicy } from './app.js'
import { loadConfig } from './config.js'
import { buildDeps } from './context.js'
import { projectionDigest } from './replay/digest.js'
import { rebuild } from './replay/rebuild.js'
import { repairFromOffsets } from './replay/repair.js'
import { verifyStore } from './replay/verify-store.js'

const USAGE = 'usage: relay rebuild | verify-store | repair | digest'

function progressBar(label: string): (n: { receipts: number; streams: number }) => void {
  const start = performance.now()
  const tty = process.stderr.isTTY
  let last = 0
  return ({ receipts, streams }) => {
    const now = performance.now()
    if (!tty && now - last < 2000) return
    last = now
    const rate = Math.round((receipts * 1000) / Math.max(1, now - start))
    const line = `${label}: ${receipts.toLocaleString('en-US')} receipts, ${streams.toLocaleString('en-US')} streams, ${rate.toLocaleString('en-US')}/s`
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`)
  }
}

async function main(command: string | undefined): Promise<number> {
  if (!command || !['rebuild', 'verify-store', 'repair', 'digest'].includes(command)) {
    process.stderr.write(`${USAGE}\n`)
    return 2
  }
  const config = loadConfig()
  const deps = await buildDeps(config)
  try {
    switch (command) {
      case 'digest': {
        process.stdout.write(JSON.stringify(await projectionDigest(deps.db)) + '\n')
        return 0
      }
      case 'rebuild': {
        const before = await projectionDigest(deps.db)
        const start = performance.now()
        const result = await rebuild(deps.db, deps.store, deps.sha256, progressBar('rebuild'))
        const seconds = (performance.now() - start) / 1000
        const after = await projectionDigest(deps.db)
        if (process.stderr.isTTY) process.stderr.write('\n')
        process.stdout.write(
          JSON.stringify({
            ...result,
            seconds: +seconds.toFixed(3),
            receiptsPerSecond: Math.round(result.receipts / Math.max(seconds, 1e-9)),
            digestBefore: before.digest,
            digestAfter: after.digest,
            unchanged: before.digest === after.digest,
          }) + '\n',
        )
        return 0
      }
      case 'verify-store': {
        const result = await verifyStore(deps.store, deps.verifier, deps.sha256, relayTrustPolicy(config))
        process.stdout.write(JSON.stringify(result) + '\n')
        return result.ok ? 0 : 1
      }
      case 'repair': {
        const result = await repairFromOffsets(deps, progressBar('repair'))
        if (process.stderr.isTTY) process.stderr.write('\n')
        process.stdout.write(JSON.stringify(result) + '\n')
        return 0
      }
    }
    return 2
  } finally {
    await (deps.verifier as { close?: () => Promise<void> }).close?.()
    await deps.store.close()
    await deps.db.close()
  }
}

main(process.argv[2]).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`relay: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 2
  },
)
