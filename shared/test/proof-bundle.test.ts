/**
 * Offline proof bundles (docs/log.md §10): the golden bundle in docs/vectors/bundle/ is exactly what the
 * generator writes, `pixpax verify --log` accepts it with no network, and each way a bundle can lie —
 * a wrong relay key, an altered checkpoint, a proof that does not verify, a missing proof, receipts out of
 * log order, a wrong seq, a position beyond the checkpoint, an altered receipt — fails with exit 1, its
 * code and the line it is on.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildBundleVectors } from './support/bundle-vectors.js'
import { readVectorText, REPO_ROOT } from './support/vectors.js'

const run = promisify(execFile)
const PIXPAX = join(REPO_ROOT, 'shared', 'bin', 'pixpax.mjs')
const BUNDLE = 'docs/vectors/bundle/bundle.ndjson'

interface CliResult {
  code: number
  out: { ok: boolean; errors?: Array<{ line: number; code: string; reason?: string }>; log?: Record<string, unknown> }
  stderr: string
}

async function verify(file: string, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [PIXPAX, 'verify', '--log', file, '--backend', 'node-sync', ...args])
    return { code: 0, out: JSON.parse(stdout) as CliResult['out'], stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, out: e.stdout ? (JSON.parse(e.stdout) as CliResult['out']) : { ok: false }, stderr: e.stderr }
  }
}

describe('offline proof bundles', () => {
  let dir: string
  let relayKeyId: string
  const lines = readVectorText(BUNDLE).split('\n').slice(0, -1)
  /** Writes a variant of the golden bundle and verifies it with the pinned key. */
  const variant = async (name: string, edit: (lines: string[]) => string[], ...args: string[]) => {
    const path = join(dir, `${name}.ndjson`)
    await writeFile(path, edit([...lines]).join('\n') + '\n')
    return verify(path, '--relay-key-id', relayKeyId, ...args)
  }
  const editProof = (line: string, change: (p: { position: number; seq: number; hashes: string[] }) => void): string => {
    const parsed = JSON.parse(line) as { inclusion: { position: number; seq: number; hashes: string[] } }
    change(parsed.inclusion)
    return JSON.stringify(parsed)
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixpax-bundle-'))
    relayKeyId = (await buildBundleVectors()).relayKeyId
  })
  afterAll(async () => rm(dir, { recursive: true, force: true }))

  it('the golden bundle is what the generator writes, byte for byte', async () => {
    const { files } = await buildBundleVectors()
    for (const [name, content] of Object.entries(files)) expect(readVectorText(`docs/vectors/bundle/${name}`), name).toBe(content)
  })

  it('verifies offline under the pinned relay key, printing the expected result', async () => {
    const result = await verify(join(REPO_ROOT, BUNDLE), '--relay-key-id', relayKeyId)
    expect(result.code, result.stderr).toBe(0)
    expect(result.out).toEqual(JSON.parse(readVectorText('docs/vectors/bundle/expected.json')))
    expect(result.stderr).toBe('')
  })

  it('without a pin, uses the key in the bundle and says so', async () => {
    const result = await verify(join(REPO_ROOT, BUNDLE))
    expect(result.code).toBe(0)
    expect(result.out.log).toMatchObject({ relayKeySource: 'bundle', proven: 11 })
    expect(result.stderr).toMatch(/--relay-key-id/)
  })

  it('every lie fails with exit 1, its code and its line', async () => {
    // A key id may start with '-' (base64url): the CLI must take it as the option's value, not a flag.
    const otherKey = '-' + 'A'.repeat(42)
    const cases = await Promise.all([
      // Another relay's key: line 1, nothing else is checked.
      variant('copy', (l) => l),
      verify(join(REPO_ROOT, BUNDLE), '--relay-key-id', otherKey),
      // The checkpoint's root changed: its signature no longer verifies.
      variant('altered-note', (l) => [l[0]!.replace(/\\n37\\n./, (m) => m.slice(0, -1) + (m.endsWith('A') ? 'B' : 'A')), ...l.slice(1)]),
      // A proof hash altered (the proof of the receipt on line 2).
      variant('bad-proof', (l) => [l[0]!, l[1]!, editProof(l[2]!, (p) => (p.hashes[0] = p.hashes[1]!)), ...l.slice(3)]),
      // The proof of the receipt on line 6 removed.
      variant('no-proof', (l) => [...l.slice(0, 6), ...l.slice(7)]),
      // Two independent receipts (account, bob's identity) swapped with their proofs: not in log order.
      variant('order', (l) => [...l.slice(0, 3), l[5]!, l[6]!, l[3]!, l[4]!, ...l.slice(7)]),
      // A proof that names another seq.
      variant('seq', (l) => [...l.slice(0, 4), editProof(l[4]!, (p) => (p.seq = 2)), ...l.slice(5)]),
      // A position beyond the checkpoint's tree (the last receipt's proof).
      variant('beyond', (l) => [...l.slice(0, -1), editProof(l[l.length - 1]!, (p) => (p.position = 40))]),
      // A receipt altered: its own check fails on its line.
      variant('altered-receipt', (l) => [...l.slice(0, 3), l[3]!.replace('studio', 'Studio'), ...l.slice(4)]),
      variant('empty', () => []),
    ])
    const [pinned, wrongPin, alteredNote, badProof, noProof, order, seq, beyond, alteredReceipt, empty] = cases
    expect(pinned.code).toBe(0)
    const first = (r: CliResult) => r.out.errors?.[0]
    for (const r of cases.slice(1)) expect(r.code, JSON.stringify(r.out)).toBe(1)
    expect(first(wrongPin)).toMatchObject({ line: 1, code: 'KEY_UNKNOWN' })
    expect(first(alteredNote)).toMatchObject({ line: 1, code: 'LOG_INCONSISTENT', reason: 'bad-signature' })
    expect(badProof.out.errors).toEqual([expect.objectContaining({ line: 3, code: 'LOG_INCONSISTENT', reason: 'inclusion' })])
    expect(noProof.out.errors).toEqual([expect.objectContaining({ line: 6, code: 'LOG_INCONSISTENT', reason: 'no-proof' })])
    expect(order.out.errors).toEqual([expect.objectContaining({ line: 7, code: 'LOG_INCONSISTENT', reason: 'order' })])
    expect(seq.out.errors).toEqual([expect.objectContaining({ line: 5, code: 'LOG_INCONSISTENT', reason: 'seq' })])
    expect(beyond.out.errors).toEqual([expect.objectContaining({ line: 23, code: 'LOG_INCONSISTENT', reason: 'beyond-checkpoint' })])
    expect(first(alteredReceipt)).toMatchObject({ line: 4, code: 'HASH_MISMATCH' })
    expect(first(empty)).toMatchObject({ line: 1, code: 'SCHEMA_INVALID' })
  }, 120_000)
})
