/** The vendored vectors are exactly the files, with exactly the checksums, that test-vectors/README.md lists. */
import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '../src/index.js'
import { nodeSha256 } from '../src/node/index.js'
import { readVectorBytes, readVectorText, vectorPath } from './support/vectors.js'

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .filter((f) => f !== 'README.md')
    .sort()
}

describe('test-vectors/README.md', () => {
  const readme = readVectorText('test-vectors/README.md')
  const listed = new Map(
    [...readme.matchAll(/^\| `([^`]+)` \| ([\d,]+) \| `([0-9a-f]{64})` \|$/gm)].map((m) => [
      m[1]!,
      { size: Number(m[2]!.replace(/,/g, '')), sha256: m[3]! },
    ]),
  )

  it('lists every vendored file, and nothing else', () => {
    expect(listed.size).toBe(29)
    expect([...listed.keys()].sort()).toEqual(filesUnder(vectorPath('test-vectors')))
  })

  it('gives the right size and sha256 for each file', () => {
    for (const [file, { size, sha256 }] of listed) {
      const bytes = readVectorBytes(`test-vectors/${file}`)
      expect({ file, size: bytes.length, sha256: bytesToHex(nodeSha256(bytes)) }).toEqual({ file, size, sha256 })
    }
  })
})
