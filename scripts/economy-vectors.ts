/** Rewrites docs/vectors/economy/ from shared/test/support/economy-vectors.ts (after a deliberate spec change). */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildEconomyVectors } from '../shared/test/support/economy-vectors.js'

const dir = join(import.meta.dirname, '..', 'docs', 'vectors', 'economy')
mkdirSync(dir, { recursive: true })
const { files } = await buildEconomyVectors()
for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
console.log(`wrote ${Object.keys(files).length} files to ${dir}`)
