/** Rewrites docs/vectors/ from shared/test/support/golden-vectors.ts (after a deliberate spec change). */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildGoldenVectors } from '../shared/test/support/golden-vectors.js'
import { buildDeviceVectors } from '../shared/test/support/device-vectors.js'
import { buildSocialVectors } from '../shared/test/support/social-vectors.js'

const dir = join(import.meta.dirname, '..', 'docs', 'vectors')
mkdirSync(dir, { recursive: true })
const files = { ...(await buildGoldenVectors()).files, ...(await buildSocialVectors()).files, ...(await buildDeviceVectors()).files }
mkdirSync(join(dir, 'devices'), { recursive: true })
for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
console.log(`wrote ${Object.keys(files).length} files to ${dir}`)
