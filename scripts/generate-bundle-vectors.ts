/** Rewrites docs/vectors/bundle/ from shared/test/support/bundle-vectors.ts (after a deliberate format change). */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildBundleVectors } from '../shared/test/support/bundle-vectors.js'

const dir = join(import.meta.dirname, '..', 'docs', 'vectors', 'bundle')
const { files } = await buildBundleVectors()
mkdirSync(dir, { recursive: true })
for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
console.log(`wrote ${Object.keys(files).length} files to ${dir}`)
