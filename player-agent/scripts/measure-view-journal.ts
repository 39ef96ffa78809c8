/**
 * What an fsynced views-journal append costs (docs/player.md, "Views"): N appends through ViewJournal
 * (one write + fdatasync each), against the same writes without fdatasync. Prints wall and CPU time per
 * append; wall is what the disk takes (noisy on a shared machine), CPU what the player pays.
 *
 *   node --import tsx player-agent/scripts/measure-view-journal.ts [dir on the disk to measure] [N]
 */
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ViewJournal } from '../src/views/view-journal.js'

const base = process.argv[2] ?? tmpdir()
const n = Number(process.argv[3] ?? 500)
const dir = await mkdtemp(join(base, 'pixpax-journal-bench-'))
const view = (i: number) => ({
  artwork: `sha256:${'ab'.repeat(32)}`,
  postId: '01JZ0000000000000000000000',
  viewedAt: new Date(Date.UTC(2026, 11, 2) + i * 5_000).toISOString(),
  channel: 'relay:user:dev-0123456789abcdef0123456789abcdef',
})

async function measure(name: string, append: (i: number) => Promise<void>): Promise<void> {
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await append(i)
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000 / n
  const cpu = process.cpuUsage(cpu0)
  const cpuUs = (cpu.user + cpu.system) / n
  console.log(`${name}: ${n} appends, wall ${wallUs.toFixed(0)} µs/append, CPU ${cpuUs.toFixed(0)} µs/append`)
}

try {
  const journal = await ViewJournal.open(join(dir, 'views.journal'))
  await measure('fdatasync each', (i) => journal.append(view(i)))
  await journal.close()
  const fh = await open(join(dir, 'plain.journal'), 'a')
  await measure('no fsync', (i) => fh.appendFile(JSON.stringify(view(i)) + '\n'))
  await fh.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}
