/**
 * The golden vectors, checked by a second implementation of the receipt and log specs written in
 * Python from docs/receipts.md and docs/log.md alone (scripts/second-verifier): the vectors verify, and
 * each tampered vector within that verifier's scope (encoding, hash, signature, chain; not schemas or
 * authorization) is refused, as is a log with one byte of one tile changed. It runs Debian's
 * /usr/bin/python3 with python3-cryptography, which .ci/run installs; without them this fails.
 */
import { execFile } from 'node:child_process'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readVectorJson, readVectorText, vectorPath as repoPath } from './support/vectors.js'

const vectorPath = (relative: string): string => repoPath(`docs/vectors/${relative}`)

const PYTHON = '/usr/bin/python3'
const SCRIPT = repoPath('scripts/second-verifier/pixpax_verify.py')

async function secondVerifier(...args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout } = await promisify(execFile)(PYTHON, [SCRIPT, ...args])
    return { ok: true, out: stdout }
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string }
    if (typeof e.code === 'string') throw error // ENOENT: no python3 — fail, never skip
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

/** Cases of tampered.json a chain/crypto verifier must refuse (the rest need schemas, keys over time or rules). */
const IN_SCOPE = new Set([
  'payload-altered',
  'payload-altered-rehashed',
  'high-s',
  'der-signature',
  'signature-prefix',
  'duplicate-key',
  'not-json',
  'float-in-payload',
  'unknown-field',
  'schema-version-2',
  'too-large',
  'unknown-key',
  'fork',
  'wrong-prev-hash',
  'event-id-order',
  'replay',
])

describe('a second implementation (Python, from the docs alone) agrees with the vectors', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixpax-second-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it.each(['chain-valid.ndjson', 'social-valid.ndjson', 'economy/drop.ndjson', 'codes/codes.ndjson', 'devices/views-valid.ndjson'])(
    'verifies %s: hashes, low-S signatures, key ids, chains',
    async (file) => {
      const result = await secondVerifier('receipts', vectorPath(file))
      expect(result.out).toMatch(/^ok receipts: \d+ in \d+ streams/)
    },
  )

  it('refuses every tampered vector in its scope, and accepts the valid next receipt', async () => {
    const chain = readVectorText('docs/vectors/chain-valid.ndjson').split('\n').filter(Boolean)
    const cases = readVectorJson<Array<{ name: string; after: number; line: string; expected: string }>>('docs/vectors/tampered.json')
    const verdicts: Record<string, boolean> = {}
    for (const c of cases.filter((c) => c.name === 'valid-next' || IN_SCOPE.has(c.name))) {
      const file = join(dir, `${c.name}.ndjson`)
      await writeFile(file, [...chain.slice(0, c.after), c.line].join('\n') + '\n')
      verdicts[c.name] = (await secondVerifier('receipts', file)).ok
    }
    expect(verdicts).toEqual(Object.fromEntries(Object.keys(verdicts).map((name) => [name, name === 'valid-next'])))
    expect(Object.keys(verdicts)).toHaveLength(IN_SCOPE.size + 1)
  })

  it('verifies the log vectors (tiles, bundles, root, signed checkpoint) and refuses one changed tile byte', async () => {
    const good = await secondVerifier('log', vectorPath('log/pixpax/log'), vectorPath('log/relay-key.json'))
    expect(good.out).toMatch(/^ok log: pixpax\.local\/log size 300 root /)
    const copy = join(dir, 'log')
    await cp(vectorPath('log/pixpax/log'), copy, { recursive: true })
    const tile = join(copy, 'tile', '0', '000')
    const bytes = await readFile(tile)
    bytes[100] = bytes[100]! ^ 1
    await writeFile(tile, bytes)
    const bad = await secondVerifier('log', copy, vectorPath('log/relay-key.json'))
    expect(bad).toMatchObject({ ok: false })
    expect(bad.out).toMatch(/FAIL: tile 0\/0/)
  })
})
