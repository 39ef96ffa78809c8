import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ChainVerifier, nobleVerifier } from '../src/index.js'
import { nodeSha256, nodeVerifier } from '../src/node/index.js'
import { buildSocialVectors, type SocialRefusedCase } from './support/social-vectors.js'

const dir = join(import.meta.dirname, '..', '..', 'docs', 'vectors')
const read = (name: string) => readFileSync(join(dir, name), 'utf8')
const lines = () => read('social-valid.ndjson').trimEnd().split('\n')

/** A verifier of a whole log: the cross-stream rules apply (media, relay state, is not decided offline). */
const wholeLog = () => new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256, crossStream: true })

describe('social golden vectors (docs/vectors/social-*)', () => {
  it('are exactly what the generator produces, byte for byte', async () => {
    const { files } = await buildSocialVectors()
    for (const [name, content] of Object.entries(files)) expect(read(name), name).toBe(content)
  })

  it('social-valid.ndjson verifies as a whole log, with and without the cross-stream rules', async () => {
    for (const chain of [wholeLog(), new ChainVerifier({ verifier: nobleVerifier })]) {
      for (const [i, line] of lines().entries()) expect(await chain.add(line), `line ${i + 1}`).toMatchObject({ ok: true })
    }
  })

  const cases = JSON.parse(read('social-refused.json')) as SocialRefusedCase[]
  for (const c of cases) {
    it(`refused case: ${c.name} → ${c.expected}`, async () => {
      const chain = wholeLog()
      for (const line of lines()) await chain.add(line)
      const verdict = await chain.add(c.line)
      expect(verdict.ok).toBe(false)
      if (verdict.ok) return
      const rule = verdict.details?.rule
      expect(typeof rule === 'string' ? `${verdict.code}:${rule}` : verdict.code).toBe(c.expected)
    })
  }
})
