/** Rewrites docs/vectors/ from shared/test/support/golden-vectors.ts (after a deliberate spec change). */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildGoldenVectors } from '../shared/test/support/golden-vectors.js'

const dir = join(import.meta.dirname, '..', 'docs', 'vectors')
mkdirSync(dir, { recursive: true })
const { files } = await buildGoldenVectors()
for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
console.log(`wrote ${Object.keys(files).length} files to ${dir}`)
