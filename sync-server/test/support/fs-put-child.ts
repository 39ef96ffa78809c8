// Child process for the cross-process putIfAbsent race in fs-object-store.test.ts.
// argv: root, go-file, key count, writer id. Says it is ready (`<go-file>.ready-<id>`), waits until
// go-file exists, then races.
import { access, writeFile } from 'node:fs/promises'
import { FsObjectStore } from '../../src/stores/fs-object-store.js'

const [root, goFile, count, id] = process.argv.slice(2)
if (root === undefined || goFile === undefined || count === undefined || id === undefined) {
  throw new Error('usage: fs-put-child <root> <go-file> <count> <id>')
}
const store = new FsObjectStore(root)
await writeFile(`${goFile}.ready-${id}`, '')
for (;;) {
  try {
    await access(goFile)
    break
  } catch {
    await new Promise((r) => setTimeout(r, 2))
  }
}
const results: string[] = []
for (let i = 0; i < Number(count); i++) {
  results.push(await store.putIfAbsent(`race/k${i}`, new TextEncoder().encode(`writer ${id}`)))
}
process.stdout.write(JSON.stringify(results))
