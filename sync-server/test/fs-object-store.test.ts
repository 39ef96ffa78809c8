import { execFile } from 'node:child_process'
import { access, mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FsObjectStore } from '../src/stores/fs-object-store.js'
import { runObjectStoreContract } from './support/object-store-contract.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

runObjectStoreContract('fs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'pixpax-fs-store-'))
  const store = new FsObjectStore(root)
  return {
    store,
    done: async () => {
      await store.close()
      await rm(root, { recursive: true, force: true })
    },
  }
})

// The same with journaled objects linked on the caller's thread (one-core machines), not the worker.
runObjectStoreContract('fs (inline linker)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'pixpax-fs-store-'))
  const store = new FsObjectStore(root, { linkWorker: false })
  return {
    store,
    done: async () => {
      await store.close()
      await rm(root, { recursive: true, force: true })
    },
  }
})

describe('FsObjectStore specifics', () => {
  let root: string
  let store: FsObjectStore
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pixpax-fs-store-'))
    store = new FsObjectStore(root)
  })
  afterEach(async () => {
    await store.close()
    await rm(root, { recursive: true, force: true })
  })

  it('lists in byte order across directory boundaries (x-1 < x.json < x/… < x0)', async () => {
    // A naive walk that sorts directory entries by name visits `x/` before `x-1` and `x.json`.
    const keys = ['d/x/1', 'd/x0/a', 'd/x-1', 'd/x.json', 'd/x/0', 'd/x_/a', 'd/x-/b']
    for (const key of keys) await store.putIfAbsent(key, text(key))
    const expected = [...keys].sort(byteOrder)
    expect(expected).toEqual(['d/x-/b', 'd/x-1', 'd/x.json', 'd/x/0', 'd/x/1', 'd/x0/a', 'd/x_/a'])
    expect(await store.list('d/')).toEqual(expected)
    expect(await store.list('d/x')).toEqual(expected)
    expect(await store.list('d/', { startAfter: 'd/x.json' })).toEqual(['d/x/0', 'd/x/1', 'd/x0/a', 'd/x_/a'])
    expect(await store.list('d/', { startAfter: 'd/x/0', limit: 2 })).toEqual(['d/x/1', 'd/x0/a'])
    expect(await store.list('d/', { startAfter: 'd/x-', limit: 2 })).toEqual(['d/x-/b', 'd/x-1'])
    expect(await store.list('d/', { startAfter: 'd/x/' })).toEqual(['d/x/0', 'd/x/1', 'd/x0/a', 'd/x_/a'])
  })

  it('agrees with a sorted model for random keys, prefixes, startAfter and limits', async () => {
    let seed = 0x9e3779b9
    const rand = (n: number): number => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
      return seed % n
    }
    const segments = ['a', 'a-', 'a.', 'a0', 'a_', 'aa', 'A', 'B', '-', '_', '0', 'x.json', 'x', 'x-1']
    const keys = new Set<string>()
    while (keys.size < 300) {
      const depth = 1 + rand(3)
      const key = Array.from({ length: depth }, () => segments[rand(segments.length)]!).join('/')
      // the filesystem cannot hold `a` and `a/b` both: keep the key set free of such pairs
      const clashes = [...keys].some((k) => k === key || k.startsWith(`${key}/`) || key.startsWith(`${k}/`))
      if (!clashes) keys.add(key)
    }
    for (const key of keys) await store.putIfAbsent(key, text(key))
    const model = [...keys].sort(byteOrder)
    const probes = [...model, 'a', 'a-', 'a/', 'a/a', 'x', 'x.', 'x/', '-', 'A/B/', '']
    for (let round = 0; round < 300; round++) {
      const prefix = ['', 'a', 'a/', 'a-', 'a/a', 'x', 'A/', '-/', 'x.json/'][rand(9)]!
      const startAfter = rand(3) === 0 ? undefined : probes[rand(probes.length)]!
      const limit = 1 + rand(40)
      const expected = model.filter((k) => k.startsWith(prefix) && (startAfter === undefined || k > startAfter)).slice(0, limit)
      const got = await store.list(prefix, { limit, ...(startAfter !== undefined ? { startAfter } : {}) })
      expect(got, `prefix=${prefix} startAfter=${startAfter} limit=${limit}`).toEqual(expected)
    }
  })

  it('lays objects out as plain files, leaves no temp files, and ignores stray entries', async () => {
    await store.putIfAbsent('pixpax/pixbooks/acc/book/events/01.json', text('{}'))
    await store.put('pixpax/pixbooks/acc/book/snapshot.json', text('{}'))
    await store.put('pixpax/pixbooks/acc/book/snapshot.json', text('{"v":2}'))
    const dir = join(root, 'pixpax/pixbooks/acc/book')
    expect((await readdir(dir)).sort()).toEqual(['events', 'snapshot.json'])
    // a crashed writer's temp file, editor droppings, names that are not key segments
    await writeFile(join(dir, '.tmp-123-abc'), 'half a rec')
    await writeFile(join(dir, '.DS_Store'), '')
    await writeFile(join(dir, 'has space'), '')
    await mkdir(join(dir, '.git'))
    await writeFile(join(dir, '.git', 'x'), '')
    expect(await store.list('pixpax/')).toEqual(['pixpax/pixbooks/acc/book/events/01.json', 'pixpax/pixbooks/acc/book/snapshot.json'])
  })

  it('refuses a key that would be both an object and a directory, without touching either', async () => {
    await store.putIfAbsent('c/a', text('object a'))
    await store.putIfAbsent('c/b/x', text('object b/x'))
    await expect(store.putIfAbsent('c/a/b', text('?'))).rejects.toThrow(/collides/)
    await expect(store.put('c/a/b', text('?'))).rejects.toThrow(/collides/)
    await expect(store.putIfAbsent('c/b', text('?'))).rejects.toThrow(/collides/)
    await expect(store.put('c/b', text('?'))).rejects.toThrow(/collides/)
    expect(await store.get('c/a/b')).toBeUndefined()
    expect(await store.get('c/b')).toBeUndefined()
    await store.delete('c/b') // a directory: nothing to delete
    expect(await store.list('c/')).toEqual(['c/a', 'c/b/x'])
    expect(Buffer.from((await store.get('c/a'))!).toString()).toBe('object a')
  })

  it('makes a directory again that was removed behind its back after it wrote there', async () => {
    const key = (n: number) => `pixpax/devices/dev1/events/${n}.json`
    expect(await store.putIfAbsentInOrder([{ key: key(1), bytes: text('one') }])).toEqual(['created'])
    // The store remembers the directory it made; an operator removes it anyway.
    await rm(join(root, 'pixpax/devices/dev1'), { recursive: true })
    expect(await store.putIfAbsentInOrder([{ key: key(2), bytes: text('two') }])).toEqual(['created'])
    expect(await store.putIfAbsent(key(3), text('three'))).toBe('created')
    await rm(join(root, 'pixpax/devices'), { recursive: true })
    await store.put('pixpax/devices/dev1/snapshot.json', text('{}'))
    expect(await store.list('pixpax/')).toEqual(['pixpax/devices/dev1/snapshot.json'])
    expect(Buffer.from((await store.get('pixpax/devices/dev1/snapshot.json'))!).toString()).toBe('{}')
  })

  it('putIfAbsentInOrder of objects already there keeps their bytes and leaves no temp file', async () => {
    const dir = 'pixpax/devices/dev2/events'
    const items = [1, 2, 3].map((n) => ({ key: `${dir}/${n}.json`, bytes: text(`first ${n}`) }))
    expect(await store.putIfAbsentInOrder(items)).toEqual(['created', 'created', 'created'])
    const again = [...items.slice(0, 2), { key: `${dir}/4.json`, bytes: text('first 4') }]
    expect(await store.putIfAbsentInOrder(again.map((i) => ({ ...i, bytes: text('other') })))).toEqual(['exists', 'exists', 'created'])
    expect((await readdir(join(root, dir))).sort()).toEqual(['1.json', '2.json', '3.json', '4.json'])
    expect(Buffer.from((await store.get(`${dir}/1.json`))!).toString()).toBe('first 1')
    await expect(store.putIfAbsentInOrder([{ key: `${dir}/1.json/x`, bytes: text('?') }])).rejects.toThrow(/collides/)
    await mkdir(join(root, dir, '5.json'))
    await expect(store.putIfAbsentInOrder([{ key: `${dir}/5.json`, bytes: text('?') }])).rejects.toThrow(/collides/)
    expect((await readdir(join(root, dir))).filter((n) => n.startsWith('.'))).toEqual([])
  })

  it('works before the root exists; ping creates it', async () => {
    const fresh = new FsObjectStore(join(root, 'not', 'yet'))
    expect(await fresh.get('a/b')).toBeUndefined()
    expect(await fresh.list('')).toEqual([])
    await fresh.ping()
    expect(await fresh.putIfAbsent('a/b', text('x'))).toBe('created')
    await fresh.close()
  })

  it('putIfAbsent is atomic across processes', async () => {
    const here = fileURLToPath(new URL('.', import.meta.url))
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
    const child = join(here, 'support', 'fs-put-child.ts')
    const go = join(root, 'go')
    const writers = 4
    const keys = 150
    const runs = Array.from({ length: writers }, (_, id) =>
      promisify(execFile)(process.execPath, ['--import', tsx, child, join(root, 'store'), go, String(keys), String(id)]),
    )
    // Every child has loaded and is polling for the go file once it has written its ready file.
    const ready = async (id: number) =>
      access(`${go}.ready-${id}`).then(
        () => true,
        () => false,
      )
    for (;;) {
      if ((await Promise.all(Array.from({ length: writers }, (_, id) => ready(id)))).every(Boolean)) break
      await new Promise((r) => setTimeout(r, 10))
    }
    await writeFile(go, '')
    const outputs = (await Promise.all(runs)).map((r) => JSON.parse(r.stdout) as string[])
    const shared = new FsObjectStore(join(root, 'store'))
    for (let i = 0; i < keys; i++) {
      const created = outputs.flatMap((o, id) => (o[i] === 'created' ? [id] : []))
      expect(created, `key ${i}`).toHaveLength(1)
      expect(Buffer.from((await shared.get(`race/k${i}`))!).toString()).toBe(`writer ${created[0]}`)
    }
    expect(await shared.list('race/', { limit: 10_000 })).toHaveLength(keys)
    expect(await readdir(join(root, 'store', 'race'))).toHaveLength(keys) // no temp files left behind
  }, 60_000)

  it('pages a large directory correctly, and sees changes to a directory whose listing it cached', async () => {
    const dir = 'pixpax/pixbooks/acc/book/events'
    const keys = Array.from({ length: 2500 }, (_, i) => `${dir}/${String(i * 2).padStart(6, '0')}.json`)
    for (let i = 0; i < keys.length; i += 250) {
      await Promise.all(keys.slice(i, i + 250).map((key) => store.putIfAbsent(key, text(key))))
    }
    // Make the directory look quiet so its sorted listing is cached.
    const old = new Date(Date.now() - 60_000)
    await utimes(join(root, dir), old, old)

    const pageAll = async (): Promise<string[]> => {
      const all: string[] = []
      for (let page = await store.list(`${dir}/`, { limit: 300 }); ;) {
        all.push(...page)
        if (page.length < 300) return all
        page = await store.list(`${dir}/`, { limit: 300, startAfter: page.at(-1)! })
      }
    }
    expect(await pageAll()).toEqual(keys)

    // Another writer (or this one) adds and removes keys: the next listing must show it.
    const added = `${dir}/000999.json`
    expect(await store.putIfAbsent(added, text('new'))).toBe('created')
    expect(await pageAll()).toEqual([...keys, added].sort(byteOrder))
    await utimes(join(root, dir), old, old)
    expect(await pageAll()).toEqual([...keys, added].sort(byteOrder))
    await rm(join(root, dir, '000000.json')) // behind the store's back
    expect((await store.list(`${dir}/`, { limit: 1 }))[0]).toBe(`${dir}/000002.json`)
  }, 60_000)
})
