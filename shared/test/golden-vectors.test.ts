import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ChainVerifier, nobleVerifier, webCryptoVerifier, type SignatureVerifier } from '../src/index.js'
import { nodeSha256, nodeVerifier } from '../src/node/index.js'
import { buildGoldenVectors, type GoldenCase } from './support/golden-vectors.js'

const dir = join(import.meta.dirname, '..', '..', 'docs', 'vectors')
const read = (name: string) => readFileSync(join(dir, name), 'utf8')

describe('golden vectors (docs/vectors)', () => {
  it('are exactly what the generator produces, byte for byte', async () => {
    const { files } = await buildGoldenVectors()
    expect(Object.keys(files).sort()).toEqual([
      'canonical.json',
      'chain-valid.expected.json',
      'chain-valid.ndjson',
      'keys.json',
      'tampered.json',
    ])
    for (const [name, content] of Object.entries(files)) expect(read(name), name).toBe(content)
  })

  const backends: SignatureVerifier[] = [nodeVerifier(), webCryptoVerifier(), nobleVerifier]
  const lines = read('chain-valid.ndjson').trimEnd().split('\n')
  const expected = JSON.parse(read('chain-valid.expected.json')) as { summary: unknown; receipts: Array<{ hash: string }> }

  for (const verifier of backends) {
    it(`chain-valid.ndjson verifies with the ${verifier.name} backend and matches the expected summary`, async () => {
      const chain = new ChainVerifier({ verifier })
      for (const [i, line] of lines.entries()) {
        const verdict = await chain.add(line)
        expect(verdict, `line ${i + 1}`).toMatchObject({ ok: true, hash: expected.receipts[i]!.hash })
      }
      expect({ ok: true, ...chain.summary() }).toEqual(expected.summary)
    })
  }

  const cases = JSON.parse(read('tampered.json')) as GoldenCase[]
  it('cover every verification code of ARCHITECTURE §6 that a single receipt can produce', () => {
    const codes = new Set(cases.map((c) => c.expected))
    for (const code of [
      'ok',
      'JSON_INVALID',
      'DUPLICATE_KEY',
      'SCHEMA_INVALID',
      'SCHEMA_VERSION_UNSUPPORTED',
      'RECEIPT_TOO_LARGE',
      'HASH_MISMATCH',
      'SIGNATURE_INVALID',
      'SIGNATURE_NOT_CANONICAL',
      'KEY_UNKNOWN',
      'KEY_REVOKED',
      'NOT_AUTHORIZED',
      'CHAIN_BROKEN',
      'CHAIN_CONFLICT',
      'EVENT_ID_ORDER',
      'IDEMPOTENCY_CONFLICT',
    ]) {
      expect(codes, code).toContain(code)
    }
  })
  for (const c of cases) {
    it(`tampered case ${c.name} → ${c.expected}`, async () => {
      const chain = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256 })
      for (const line of lines.slice(0, c.after)) expect((await chain.add(line)).ok).toBe(true)
      const before = JSON.stringify(chain.summary())
      const verdict = await chain.add(c.line)
      expect(verdict.ok ? 'ok' : verdict.code).toBe(c.expected)
      if (!verdict.ok) expect(JSON.stringify(chain.summary()), 'a rejected receipt changes nothing').toBe(before)
    })
  }
})
