/** Rewrites docs/vectors/codes/ from shared/test/support/code-vectors.ts (after a deliberate spec change). */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildCodeVectors } from '../shared/test/support/code-vectors.js'

const dir = join(import.meta.dirname, '..', 'docs', 'vectors', 'codes')
mkdirSync(dir, { recursive: true })
const { files } = await buildCodeVectors()
for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
console.log(`wrote ${Object.keys(files).length} files to ${dir}`)
