import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { errorCodes } from '../src/index.js'

describe('docs/errors.md', () => {
  it('documents exactly the codes of shared/src/errors.ts', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8')
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1])
    expect([...documented].sort()).toEqual([...errorCodes].sort())
  })
})
