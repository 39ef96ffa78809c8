/**
 * Writes sync-server/test/fixtures/media/ from sync-server/test/support/media-fixtures.ts: the real
 * images of each format and the small hostile ones (run once; the files are committed so tests read
 * the same bytes whatever sharp's version). `node --import tsx scripts/generate-media-fixtures.ts`
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildGoodFixtures, buildHostileFixtures } from '../sync-server/test/support/media-fixtures.js'

const dir = join(import.meta.dirname, '..', 'sync-server', 'test', 'fixtures', 'media')
for (const [sub, fixtures] of [
  ['good', await buildGoodFixtures()],
  ['hostile', await buildHostileFixtures()],
] as const) {
  mkdirSync(join(dir, sub), { recursive: true })
  for (const f of fixtures) writeFileSync(join(dir, sub, f.name), f.bytes)
  console.log(`wrote ${fixtures.length} files to ${join(dir, sub)}`)
}
