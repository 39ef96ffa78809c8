/**
 * The fs store's write-ahead journal (src/stores/fs-journal.ts): what a power loss or kill -9 leaves is
 * made whole when the store is opened again, and nothing that is not the store's own is overwritten.
 * A power loss cannot be caused here, so its effects on files that were never fsync'd are made by hand
 * (a file missing, emptied, cut short, or holding its old bytes) and a reboot is a new boot id.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, symlink, truncate, unlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { decodeRecords, encodeRecords, type JournalRecord } from '../src/stores/fs-journal.js'
import { FsObjectStore } from '../src/stores/fs-object-store.js'
import { runObjectStoreContract } from './support/object-store-contract.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const read = async (store: FsObjectStore, key: string): Promise<string | undefined> => {
  const bytes = await store.get(key)
  return bytes === undefined ? undefined : Buffer.from(bytes).toString()
}

// The store without its journal (large objects take this path always) keeps the whole contract too.
runObjectStoreContract('fs without journal', async () => {
  const root = await mkdtemp(join(tmpdir(), 'pixpax-fs-nojournal-'))
  const store = new FsObjectStore(root, { journal: false })
  return {
    store,
    done: async () => {
      await store.close()
      await rm(root, { recursive: true, force: true })
    },
  }
})

describe('journal records', () => {
  const records: JournalRecord[] = [
    { op: 'create', key: 'a/b/1.json', bytes: text('{"n":1}') },
    { op: 'put', key: 'log/checkpoint', bytes: new Uint8Array(70_000).map((_, i) => i % 251) },
    { op: 'delete', key: 'snap/x', bytes: new Uint8Array(0) },
  ]

  it('round-trip', () => {
    expect(decodeRecords(encodeRecords(records))).toEqual({ records, torn: false })
  })

  it('a tail cut anywhere in the last record, or zero padding after it, ends the records before it', () => {
    const whole = encodeRecords(records)
    const firstTwo = encodeRecords(records.slice(0, 2)).length
    for (let cut = firstTwo + 1; cut < whole.length; cut++) {
      expect(decodeRecords(whole.subarray(0, cut))).toEqual({ records: records.slice(0, 2), torn: true })
    }
    const padded = Buffer.concat([whole, Buffer.alloc(4096)])
    expect(decodeRecords(padded).records).toEqual(records)
  })

  it('a damaged byte ends the records at the damaged one', () => {
    const whole = encodeRecords(records)
    const at = encodeRecords(records.slice(0, 1)).length + 10 // inside the second record's body
    const damaged = Buffer.from(whole)
    damaged[at] = damaged[at]! ^ 0xff
    expect(decodeRecords(damaged)).toEqual({ records: records.slice(0, 1), torn: true })
  })
})

describe('FsObjectStore journal: crash recovery', () => {
  let root: string
  const open: FsObjectStore[] = []
  const storeAt = (options: ConstructorParameters<typeof FsObjectStore>[1] = {}) => {
    const s = new FsObjectStore(root, options)
    open.push(s)
    return s
  }
  const segmentsIn = async () => (await readdir(join(root, '.journal'))).filter((n) => n.endsWith('.wal')).sort()

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pixpax-fs-journal-'))
  })
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close()
    await rm(root, { recursive: true, force: true })
  })

  it('after a power loss, replay restores every acknowledged write and no other', async () => {
    const replays: unknown[] = []
    const before = storeAt({ journal: { bootId: 'aaaaaaaaaaaa' } })
    const ev = (n: number) => `pixpax/devices/d1/events/${n}.json`
    expect(await before.putIfAbsentInOrder([1, 2, 3, 4].map((n) => ({ key: ev(n), bytes: text(`receipt ${n} `.repeat(20)) })))).toEqual([
      'created',
      'created',
      'created',
      'created',
    ])
    expect(await before.putIfAbsent('pixpax/devices/d2/events/1.json', text('other stream'))).toBe('created')
    await before.put('log/checkpoint', text('size 4'))
    await before.put('log/checkpoint', text('size 5'))
    await before.put('snap/old', text('derived'))
    await before.delete('snap/old')
    // The machine loses power: no close. Of what was never fsync'd, the disk kept some and not the rest.
    await unlink(join(root, ev(1)))
    await truncate(join(root, ev(2)), 0)
    await truncate(join(root, ev(3)), 7)
    await writeFile(join(root, 'log/checkpoint'), 'size 3') // the rename of the last put did not reach the disk
    await writeFile(join(root, 'snap/old'), 'derived') // nor the unlink
    // A file no record covers (written behind the store's back) is not the journal's business.
    await writeFile(join(root, 'pixpax/devices/d1/events/9.json'), 'stray')

    const after = storeAt({ journal: { bootId: 'bbbbbbbbbbbb', onReplay: (s) => replays.push(s) } })
    for (const n of [1, 2, 3, 4]) expect(await read(after, ev(n))).toBe(`receipt ${n} `.repeat(20))
    expect(await read(after, 'pixpax/devices/d2/events/1.json')).toBe('other stream')
    expect(await read(after, 'log/checkpoint')).toBe('size 5')
    expect(await read(after, 'snap/old')).toBeUndefined()
    expect(await read(after, 'pixpax/devices/d1/events/9.json')).toBe('stray')
    expect(replays).toEqual([{ segments: 1, records: 9, repaired: 5, failed: 0 }])
    // The segment is this process's now, waiting to be retired; new writes go to a new one.
    expect(await after.putIfAbsent(ev(5), text('five'))).toBe('created')
    expect(await segmentsIn()).toHaveLength(2)
  })

  it('a created name another writer won with other bytes is left alone; a torn copy of ours is mended', async () => {
    const loser = storeAt({ journal: { bootId: 'aaaaaaaaaaaa' } })
    await loser.putIfAbsent('race/won-by-other', text('mine, complete'))
    await loser.putIfAbsent('race/torn', text('mine, complete'))
    // What another process's link could have put there first (ours then failed with EEXIST).
    await writeFile(join(root, 'race/won-by-other'), 'theirs')
    await writeFile(join(root, 'race/torn'), 'mine, co')
    const after = storeAt({ journal: { bootId: 'bbbbbbbbbbbb' } })
    expect(await read(after, 'race/won-by-other')).toBe('theirs')
    expect(await read(after, 'race/torn')).toBe('mine, complete')
  })

  it('does not replay the segment of a writer that is still running', async () => {
    const live = storeAt() // this process, this boot: alive
    await live.putIfAbsent('a/1', text('one'))
    const [segment] = await segmentsIn()
    await unlink(join(root, 'a/1')) // as if lost; a live writer's records are not another opener's to replay
    const other = storeAt()
    expect(await read(other, 'a/1')).toBeUndefined()
    expect(await segmentsIn()).toEqual([segment])
    expect(await live.putIfAbsent('a/2', text('two'))).toBe('created')
    expect(await read(other, 'a/2')).toBe('two')
  })

  it('a clean close hands its segment to the next opener, which retires it once its files are durable', async () => {
    const first = storeAt({ journal: { retireAfterMs: 60_000 } })
    await first.putIfAbsent('a/1', text('one'))
    await first.close()
    expect((await segmentsIn())[0]).toMatch(/^\d{17}\.closed\.wal$/)
    const replays: unknown[] = []
    const second = storeAt({ journal: { retireAfterMs: 60_000, onReplay: (s) => replays.push(s) } })
    expect(await read(second, 'a/1')).toBe('one')
    expect(replays).toEqual([{ segments: 1, records: 1, repaired: 0, failed: 0 }])
    const journal = second.journal!
    expect(await journal.retireDue(Date.now())).toBe(0) // not old enough
    expect(await journal.retireDue(Date.now() + 60_000)).toBe(1)
    expect(await segmentsIn()).toEqual([])
  })

  it('rotates segments and retires a rotated one only after every write in it finished', async () => {
    const store = storeAt({ journal: { retireAfterMs: 0 } })
    const journal = store.journal!
    await store.putIfAbsent('a/1', text('one'))
    // A write whose record is durable but whose name is not linked yet keeps its segment.
    const done = await journal.append([{ op: 'create', key: 'a/2', bytes: text('two') }])
    const firstSize = (await stat(join(root, '.journal', (await segmentsIn())[0]!))).size
    journal.rotate()
    expect(await journal.retireDue()).toBe(0)
    done()
    expect(await journal.retireDue()).toBe(1)
    await store.putIfAbsent('a/3', text('three'))
    expect(await segmentsIn()).toHaveLength(1)
    expect(await read(store, 'a/3')).toBe('three')
    // Written out whole up front: the process's first segment small (most stores write little), then full size.
    expect(firstSize).toBe(1024 * 1024)
    expect((await stat(join(root, '.journal', (await segmentsIn())[0]!))).size).toBe(8 * 1024 * 1024)
  })

  it('retires a segment that touched a directory on another filesystem (one fsync per path there, not syncfs)', async () => {
    // `a` is a symlink to a directory on tmpfs: syncfs of the store's filesystem would not cover it.
    const elsewhere = await mkdtemp(join('/dev/shm', 'pixpax-journal-'))
    try {
      await symlink(elsewhere, join(root, 'a'))
      const store = storeAt({ journal: { retireAfterMs: 0 } })
      const journal = store.journal!
      await store.putIfAbsent('a/1', text('one'))
      await store.putIfAbsent('b/1', text('two'))
      journal.rotate()
      expect(await journal.retireDue()).toBe(1)
      expect(await segmentsIn()).toEqual([])
      expect([await read(store, 'a/1'), await read(store, 'b/1')]).toEqual(['one', 'two'])
      expect(await readFile(join(elsewhere, '1'), 'utf8')).toBe('one')
    } finally {
      await rm(elsewhere, { recursive: true, force: true })
    }
  })

  it('a torn journal tail is ignored: the records before it replay', async () => {
    const before = storeAt({ journal: { bootId: 'aaaaaaaaaaaa' } })
    await before.putIfAbsent('a/1', text('one'))
    await before.putIfAbsent('a/2', text('two'))
    const [segment] = await segmentsIn()
    const path = join(root, '.journal', segment!)
    const bytes = await readFile(path)
    const end = bytes.length - [...bytes].reverse().findIndex((b) => b !== 0) // the preallocated zeros after the records
    await writeFile(path, bytes.subarray(0, end - 3)) // the last record cut short
    await unlink(join(root, 'a/1'))
    await unlink(join(root, 'a/2'))
    const after = storeAt({ journal: { bootId: 'bbbbbbbbbbbb' } })
    expect(await read(after, 'a/1')).toBe('one')
    expect(await read(after, 'a/2')).toBeUndefined()
  })

  it('kill -9 of a writing process: every write it reported done reads back whole', async () => {
    const here = fileURLToPath(new URL('.', import.meta.url))
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
    const child = spawn(process.execPath, ['--import', tsx, join(here, 'support', 'fs-journal-child.ts'), root], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const done: string[] = []
    let buffered = ''
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString()
        const lines = buffered.split('\n')
        buffered = lines.pop()!
        done.push(...lines)
        // Killed mid-stream, once it has written a fair amount (several rotations of its small segments).
        if (done.length >= 400 && !child.killed) child.kill('SIGKILL')
      })
      child.once('exit', () => resolve())
    })
    expect(done.length).toBeGreaterThanOrEqual(400)
    const after = storeAt()
    const replaced = Math.max(...done.filter((l) => l.startsWith('k/replaced ')).map((l) => Number(l.split(' v')[1])))
    for (const line of done) {
      const [key, value] = line.split(' ')
      if (key !== 'k/replaced') expect(await read(after, key!), key).toBe(value)
    }
    // The last put it reported, or one after it that finished before the kill.
    expect(Number((await read(after, 'k/replaced'))!.slice(1))).toBeGreaterThanOrEqual(replaced)
    const keys = await after.list('k/', { limit: 100_000 })
    expect(keys.length).toBeGreaterThanOrEqual(new Set(done.map((l) => l.split(' ')[0])).size)
    expect((await readdir(join(root, 'k'))).filter((n) => n.startsWith('.tmp-')).length).toBeLessThanOrEqual(1)
  }, 60_000)

  it('works with a root that does not exist yet, and creates nothing until the first write', async () => {
    const fresh = storeAt()
    const other = new FsObjectStore(join(root, 'not', 'yet'))
    open.push(other)
    expect(await other.get('a/b')).toBeUndefined()
    expect(await promisify(execFile)('ls', ['-A', root]).then((r) => r.stdout.trim())).toBe('')
    expect(await other.putIfAbsent('a/b', text('x'))).toBe('created')
    expect(await read(fresh, 'a/b')).toBeUndefined()
  })
})
