// Child process for the kill -9 test in fs-journal.test.ts: writes objects through the journal without
// end (single puts, chains, replaced keys), printing `<key> <value>` once each write has resolved.
// argv: root.
import { FsObjectStore } from '../../src/stores/fs-object-store.js'

const [root] = process.argv.slice(2)
if (root === undefined) throw new Error('usage: fs-journal-child <root>')
const store = new FsObjectStore(root, { journal: { rotateBytes: 16 * 1024, rotateMs: 50 } })
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
for (let i = 0; ; i++) {
  if (i % 3 === 0) {
    const keys = [0, 1, 2].map((j) => `k/c${i}-${j}`)
    await store.putIfAbsentInOrder(keys.map((key) => ({ key, bytes: text(`v${i}`) })))
    process.stdout.write(keys.map((key) => `${key} v${i}\n`).join(''))
  } else if (i % 3 === 1) {
    await store.putIfAbsent(`k/s${i}`, text(`v${i}`))
    process.stdout.write(`k/s${i} v${i}\n`)
  } else {
    await store.put('k/replaced', text(`v${i}`))
    process.stdout.write(`k/replaced v${i}\n`)
  }
}
