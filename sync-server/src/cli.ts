/**
 * `pnpm --silent relay <command>` — operations on the object store and the projection, with the same
 * configuration (environment) as the relay:
 *   rebuild       drop every projection and replay the object store (prints the digest before and after)
 *   verify-store  re-verify every stored chain; counts problems by code (exit 1 if any)
 *   repair        settle crashed appends and project every stored receipt past its projector offset
 *   digest        the hash of the projection tables' rows in a fixed order
 */
import { buildApp, relayTrustPolicy } from './app.js'
import { loadConfig } from './config.js'
import { buildDeps } from './context.js'
import { projectionDigest } from './replay/digest.js'
import { rebuild } from './replay/rebuild.js'
import { repairFromStore } from './replay/repair.js'
import { verifyStore } from './replay/verify-store.js'

const USAGE = 'usage: relay rebuild [--projector NAME…] | verify-store | repair | digest'

/** A progress bar on stderr: redrawn in place on a terminal, a line every 2 s otherwise (logs, CI). */
function progressBar(label: string): (n: { receipts: number; total?: number }) => void {
  const start = performance.now()
  const tty = process.stderr.isTTY
  let last = 0
  return ({ receipts, total }) => {
    const now = performance.now()
    if (now - last < (tty ? 100 : 2000) && receipts !== total) return
    last = now
    const rate = Math.round((receipts * 1000) / Math.max(1, now - start))
    const fraction = total ? Math.min(1, receipts / total) : 0
    const bar = total ? `[${'#'.repeat(Math.round(fraction * 30)).padEnd(30, '.')}] ${(fraction * 100).toFixed(1)}% ` : ''
    const line = `${label}: ${bar}${receipts.toLocaleString('en-US')}${total ? `/${total.toLocaleString('en-US')}` : ''} receipts, ${rate.toLocaleString('en-US')}/s`
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`)
  }
}

async function main(command: string | undefined): Promise<number> {
  if (!command || !['rebuild', 'verify-store', 'repair', 'digest'].includes(command)) {
    process.stderr.write(`${USAGE}\n`)
    return 2
  }
  const config = loadConfig()
  // No live fan-out for a one-shot command: without a LISTEN connection, nothing keeps the process alive.
  const deps = await buildDeps(config, { notifier: false })
  try {
    switch (command) {
      case 'digest': {
        process.stdout.write(JSON.stringify(await projectionDigest(deps.db)) + '\n')
        return 0
      }
      case 'rebuild': {
        const before = await projectionDigest(deps.db)
        const start = performance.now()
        const projectors = process.argv.slice(3).flatMap((a, i, all) => (all[i - 1] === '--projector' ? [a] : []))
        const result = await rebuild(
          { db: deps.db, store: deps.store, sha256: deps.sha256, verifier: deps.verifier, policy: relayTrustPolicy(config) },
          { ...(projectors.length ? { projectors } : {}), progress: progressBar('rebuild') },
        )
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
        const result = await verifyStore(deps.store, deps.verifier, deps.sha256, {
          ...relayTrustPolicy(config),
          relayKey: { name: config.LOG_ORIGIN, publicKey: deps.relaySigner.publicKey },
          progress: progressBar('verify-store'),
        })
        if (process.stderr.isTTY) process.stderr.write('\n')
        process.stdout.write(JSON.stringify(result) + '\n')
        return result.ok ? 0 : 1
      }
      case 'repair': {
        const app = await buildApp({ ...deps, logger: false })
        await app.ready()
        try {
          const result = await repairFromStore(deps.db, deps.store, app.relay.ingestor.appender)
          process.stdout.write(JSON.stringify(result) + '\n')
        } finally {
          await app.close() // closes the store, database and verifier too
        }
        return 0
      }
    }
    return 2
  } finally {
    await deps.notifier?.close()
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
