import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const benchDir = dirname(fileURLToPath(import.meta.url))
export const repoRoot = join(benchDir, '..')

/** Runs `fn` repeatedly for about `seconds` and returns operations per second. */
export async function rate(seconds: number, fn: () => unknown, batch = 100): Promise<number> {
  // Warm up: JIT, key caches.
  for (let i = 0; i < batch; i++) await fn()
  let ops = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) {
    for (let i = 0; i < batch; i++) await fn()
    ops += batch
  }
  return (ops * 1000) / (performance.now() - start)
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** Writes a result file under bench/results/ and returns its path. */
export function writeResult(name: string, result: unknown): string {
  const dir = join(benchDir, 'results')
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `${name}.json`)
  writeFileSync(path, JSON.stringify(result, null, 2) + '\n')
  return path
}
