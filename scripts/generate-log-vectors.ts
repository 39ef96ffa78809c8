/** Rewrites docs/vectors/log/ from shared/test/support/log-vectors.ts (after a deliberate format change). */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { buildLogVectors } from '../shared/test/support/log-vectors.js'

const dir = join(import.meta.dirname, '..', 'docs', 'vectors', 'log')
const { files } = await buildLogVectors()
rmSync(dir, { recursive: true, force: true }) // no stale tiles from an older layout
for (const [name, content] of Object.entries(files)) {
  const path = join(dir, name)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, content)
}
console.log(`wrote ${Object.keys(files).length} files to ${dir}`)
