import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { getMany, putAllThen, putIfAbsentInOrder, type ObjectStore } from '../../src/stores/object-store.js'

export interface ObjectStoreFixture {
  store: ObjectStore
  /** Tears the fixture down; defaults to `store.close()`. */
  done?: () => Promise<void>
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Byte order, as S3 defines it (keys are ASCII, so UTF-16 code unit order is the same). */
const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array)
  expect(actual!.byteLength).toBe(expected.byteLength)
  expect(Buffer.from(actual!).equals(Buffer.from(expected))).toBe(true)
}

/**
 * The ObjectStore conformance suite (STYLE.md practice 2): every implementation runs it. `setup` is
 * called before each test and must return an empty store (a fresh directory, a fresh bucket prefix).
 */
export function runObjectStoreContract(name: string, setup: () => Promise<ObjectStoreFixture>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore
    let done: () => Promise<void>

    beforeEach(async () => {
      const fixture = await setup()
      store = fixture.store
      done = fixture.done ?? (() => fixture.store.close())
    })
    afterEach(async () => {
      await done()
    })

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined()
    })

    it('returns undefined for an absent object and lists nothing in an empty store', async () => {
      expect(await store.get('pixpax/nothing/here.json')).toBeUndefined()
      expect(await store.list('')).toEqual([])
      expect(await store.list('pixpax/')).toEqual([])
    })

    it('round-trips bytes exactly: binary, empty, large', async () => {
      const allBytes = new Uint8Array(512).map((_, i) => i % 256)
      const empty = new Uint8Array(0)
      const large = new Uint8Array(randomBytes(1024 * 1024 + 7))
      const json = text('{"a":"é ✓ \\u0000","b":[1,2]}\n')
      expect(await store.putIfAbsent('rt/binary.bin', allBytes)).toBe('created')
      expect(await store.putIfAbsent('rt/empty', empty)).toBe('created')
      await store.put('rt/large.bin', large)
      expect(await store.putIfAbsent('rt/receipt.json', json, 'application/json')).toBe('created')
      expectBytes(await store.get('rt/binary.bin'), allBytes)
      expectBytes(await store.get('rt/empty'), empty)
      expectBytes(await store.get('rt/large.bin'), large)
      expectBytes(await store.get('rt/receipt.json'), json)
    })

    it('does not keep a reference to the caller’s buffer', async () => {
      const bytes = text('original')
      await store.putIfAbsent('alias/x', bytes)
      bytes.fill(0)
      expectBytes(await store.get('alias/x'), text('original'))
      const got = await store.get('alias/x')
      got!.fill(0)
      expectBytes(await store.get('alias/x'), text('original'))
    })

    it('putIfAbsent creates once, then reports exists and never alters the first bytes', async () => {
      expect(await store.putIfAbsent('once/k', text('first'))).toBe('created')
      expect(await store.putIfAbsent('once/k', text('second, longer'))).toBe('exists')
      expect(await store.putIfAbsent('once/k', new Uint8Array(0))).toBe('exists')
      expectBytes(await store.get('once/k'), text('first'))
      expect(await store.list('once/')).toEqual(['once/k'])
    })

    it('put creates and overwrites', async () => {
      await store.put('snap/snapshot.json', text('v1 with more bytes'))
      expectBytes(await store.get('snap/snapshot.json'), text('v1 with more bytes'))
      await store.put('snap/snapshot.json', text('v2'))
      expectBytes(await store.get('snap/snapshot.json'), text('v2'))
      expect(await store.putIfAbsent('snap/snapshot.json', text('v3'))).toBe('exists')
      expect(await store.list('snap/')).toEqual(['snap/snapshot.json'])
    })

    it('lists in byte order, not locale order', async () => {
      const keys = ['a/B', 'a/a', 'a/_', 'a/-', 'a/0', 'a/Z9', 'a/z', 'a/A', 'a/a-b', 'a/a.b', 'a/a_b', 'a/ab']
      const expected = [...keys].sort(byteOrder)
      // The point of the test: these keys sort differently under localeCompare.
      expect([...keys].sort((x, y) => x.localeCompare(y))).not.toEqual(expected)
      for (const key of [...keys].reverse()) await store.putIfAbsent(key, text(key))
      expect(await store.list('a/')).toEqual(expected)
      expect(await store.list('a')).toEqual(expected)
      expect(await store.list('')).toEqual(expected)
    })

    it('matches a prefix that ends mid-segment', async () => {
      const keys = [
        'pixpax/pixbooks/ab/b1/events/e1.json',
        'pixpax/pixbooks/acc/b1/events/e1.json',
        'pixpax/pixbooks/acc/b1/snapshot.json',
        'pixpax/pixbooks/acc1/b2/events/e1.json',
        'pixpax/pixbooks/acc10/b3/events/e1.json',
        'pixpax/pixbooks/acd/b4/events/e1.json',
        'pixpax/pixbookz/acc/b5/events/e1.json',
      ]
      for (const key of keys) await store.putIfAbsent(key, text(key))
      expect(await store.list('pixpax/pixbooks/acc')).toEqual([
        'pixpax/pixbooks/acc/b1/events/e1.json',
        'pixpax/pixbooks/acc/b1/snapshot.json',
        'pixpax/pixbooks/acc1/b2/events/e1.json',
        'pixpax/pixbooks/acc10/b3/events/e1.json',
      ])
      expect(await store.list('pixpax/pixbooks/acc1')).toEqual([
        'pixpax/pixbooks/acc1/b2/events/e1.json',
        'pixpax/pixbooks/acc10/b3/events/e1.json',
      ])
      expect(await store.list('pixpax/pixbooks/acc/')).toEqual([
        'pixpax/pixbooks/acc/b1/events/e1.json',
        'pixpax/pixbooks/acc/b1/snapshot.json',
      ])
      expect(await store.list('pixpax/pixbooks/acc/b1/events/e1.js')).toEqual(['pixpax/pixbooks/acc/b1/events/e1.json'])
      expect(await store.list('pixpax/pixbooks/acc/b1/events/e1.json')).toEqual(['pixpax/pixbooks/acc/b1/events/e1.json'])
      expect(await store.list('pixpax/pixbook')).toEqual(keys)
      expect(await store.list('pixpax/pixbooks/acc2')).toEqual([])
      expect(await store.list('nothing')).toEqual([])
    })

    it('pages with startAfter and limit', async () => {
      const keys = Array.from({ length: 23 }, (_, i) => `page/k${String(i).padStart(3, '0')}`)
      await Promise.all(keys.map((key) => store.putIfAbsent(key, text(key))))
      await store.putIfAbsent('pagf/outside', text('x'))
      await store.putIfAbsent('pag/outside', text('x'))

      const pages: string[][] = []
      let startAfter: string | undefined
      for (;;) {
        const page = await store.list('page/', { limit: 5, ...(startAfter !== undefined ? { startAfter } : {}) })
        pages.push(page)
        if (page.length < 5) break
        startAfter = page.at(-1)
      }
      expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 3])
      expect(pages.flat()).toEqual(keys)

      expect(await store.list('page/', { limit: 1 })).toEqual(['page/k000'])
      expect(await store.list('page/', { limit: 0 })).toEqual([])
      expect(await store.list('page/')).toEqual(keys) // default limit 1000
      // startAfter need not be a stored key
      expect(await store.list('page/', { startAfter: 'page/k010x', limit: 3 })).toEqual(['page/k011', 'page/k012', 'page/k013'])
      expect(await store.list('page/', { startAfter: 'page/k022' })).toEqual([])
      expect(await store.list('page/', { startAfter: 'page/zzz' })).toEqual([])
      // startAfter before the prefix: the whole prefix
      expect(await store.list('page/', { startAfter: 'a', limit: 2 })).toEqual(['page/k000', 'page/k001'])
      expect(await store.list('page/', { startAfter: 'page/' })).toEqual(keys)
      // startAfter is a prefix of later keys (a "directory"): keys under it follow
      expect(await store.list('', { startAfter: 'page' })).toEqual([...keys, 'pagf/outside'])
      expect(await store.list('', { startAfter: 'pag' })).toEqual(['pag/outside', ...keys, 'pagf/outside'])
    })

    it('lists more than one server page (over 1000 keys)', async () => {
      const keys = Array.from({ length: 1203 }, (_, i) => `many/${String(i).padStart(5, '0')}`)
      for (let i = 0; i < keys.length; i += 100) {
        await Promise.all(keys.slice(i, i + 100).map((key) => store.putIfAbsent(key, text(key))))
      }
      const first = await store.list('many/', { limit: 1100 })
      expect(first).toEqual(keys.slice(0, 1100))
      expect(await store.list('many/', { startAfter: first.at(-1)!, limit: 1000 })).toEqual(keys.slice(1100))
      expect(await store.list('many/')).toEqual(keys.slice(0, 1000))
    }, 120_000)

    it('never lists or returns a partially written object', async () => {
      const big = new Uint8Array(randomBytes(4 * 1024 * 1024))
      const bigger = new Uint8Array(randomBytes(6 * 1024 * 1024))
      const expected = new Map([
        ['torn/a.bin', big],
        ['torn/b.bin', bigger],
        ['torn/c.bin', big],
      ])
      let writing = true
      const writes = Promise.all([
        store.putIfAbsent('torn/a.bin', big),
        store.put('torn/b.bin', bigger),
        store.put('torn/c.bin', bigger).then(() => store.put('torn/c.bin', big)),
      ]).finally(() => {
        writing = false
      })
      let observations = 0
      while (writing || observations < 3) {
        const listed = await store.list('torn/')
        for (const key of listed) {
          expect(expected.has(key), `unexpected key ${key}`).toBe(true)
          const bytes = await store.get(key)
          expect(bytes).toBeDefined()
          if (key === 'torn/c.bin') {
            // c is overwritten while we read: it must be one whole version or the other
            const isBig = bytes!.byteLength === big.byteLength && Buffer.from(bytes!).equals(Buffer.from(big))
            const isBigger = bytes!.byteLength === bigger.byteLength && Buffer.from(bytes!).equals(Buffer.from(bigger))
            expect(isBig || isBigger).toBe(true)
          } else {
            expectBytes(bytes, expected.get(key)!)
          }
        }
        for (const key of expected.keys()) {
          const bytes = await store.get(key)
          if (bytes !== undefined && key !== 'torn/c.bin') expectBytes(bytes, expected.get(key)!)
        }
        observations++
      }
      await writes
      expect(await store.list('torn/')).toEqual(['torn/a.bin', 'torn/b.bin', 'torn/c.bin'])
      expectBytes(await store.get('torn/c.bin'), big)
    }, 60_000)

    it('putIfAbsentInOrder stores a chain in order: a reader only ever sees a prefix; existing bytes are kept', async () => {
      expect(await store.putIfAbsent('chain/e-003.json', text('already here'))).toBe('created')
      const items = Array.from({ length: 40 }, (_, i) => ({
        key: `chain/e-${String(i).padStart(3, '0')}.json`,
        bytes: text(`receipt ${i}`),
        contentType: 'application/json',
      }))
      let writing = true
      const written = putIfAbsentInOrder(store, items).finally(() => {
        writing = false
      })
      const keys = items.map((i) => i.key)
      while (writing) {
        const listed = await store.list('chain/')
        // e-003 was there before: every other listed key must come with every key before it.
        const missing = keys.findIndex((k) => !listed.includes(k))
        if (missing >= 0) expect(listed.filter((k) => k !== 'chain/e-003.json' && keys.indexOf(k) > missing)).toEqual([])
      }
      expect(await written).toEqual(items.map((_, i) => (i === 3 ? 'exists' : 'created')))
      expect(await store.list('chain/')).toEqual(keys)
      expectBytes(await store.get('chain/e-003.json'), text('already here'))
      expectBytes(await store.get('chain/e-039.json'), text('receipt 39'))
      expect(await putIfAbsentInOrder(store, items.slice(0, 2))).toEqual(['exists', 'exists'])
    })

    it('putAllThen stores every item, and the last one only after them; replaces what was there', async () => {
      await store.put('tiles/checkpoint', text('size 0'))
      const items = Array.from({ length: 12 }, (_, i) => ({ key: `tiles/t/${i}`, bytes: text(`tile ${i}`) }))
      const last = { key: 'tiles/checkpoint', bytes: text('size 12'), contentType: 'text/plain; charset=utf-8' }
      let writing = true
      const written = putAllThen(store, items, last).finally(() => {
        writing = false
      })
      while (writing) {
        // Read the last one first: once it is the new one, every item must be there already.
        const checkpoint = Buffer.from((await store.get(last.key))!).toString()
        if (checkpoint === 'size 12') expect(await store.list('tiles/t/')).toHaveLength(items.length)
      }
      await written
      expectBytes(await store.get(last.key), last.bytes)
      for (const item of items) expectBytes(await store.get(item.key), item.bytes)
      await putAllThen(store, [{ key: 'tiles/t/0', bytes: text('tile 0 again') }], { key: last.key, bytes: text('size 13') })
      expectBytes(await store.get('tiles/t/0'), text('tile 0 again'))
      expectBytes(await store.get(last.key), text('size 13'))
    })

    it('getMany returns what get returns, in the order asked, absent keys as undefined', async () => {
      const keys = ['many-get/a.json', 'many-get/sub/b.bin', 'many-get/c.json']
      await store.putIfAbsent(keys[0]!, text('first'))
      await store.putIfAbsent(keys[1]!, new Uint8Array([0, 1, 2, 255]))
      const asked = [keys[1]!, 'many-get/missing.json', keys[0]!, keys[1]!, 'many-get/sub/none']
      const got = await getMany(store, asked)
      expect(got).toHaveLength(asked.length)
      for (const [i, key] of asked.entries()) {
        const one = await store.get(key)
        if (one === undefined) expect(got[i]).toBeUndefined()
        else expectBytes(got[i], one)
      }
      expect(await getMany(store, [])).toEqual([])
      // A caller may keep and change what it got: the store's copy stays as it was.
      got[0]![0] = 42
      expectBytes(await store.get(keys[1]!), new Uint8Array([0, 1, 2, 255]))
    })

    it('deletes', async () => {
      await store.put('del/snapshot.json', text('s'))
      await store.putIfAbsent('del/keep.json', text('k'))
      await store.delete('del/snapshot.json')
      expect(await store.get('del/snapshot.json')).toBeUndefined()
      expect(await store.list('del/')).toEqual(['del/keep.json'])
      await expect(store.delete('del/snapshot.json')).resolves.toBeUndefined()
      await expect(store.delete('del/never/existed')).resolves.toBeUndefined()
      expect(await store.putIfAbsent('del/snapshot.json', text('again'))).toBe('created')
      expectBytes(await store.get('del/snapshot.json'), text('again'))
    })

    it('rejects invalid keys in every method', async () => {
      const bad = ['../x', 'a/../../x', 'a//b', '/abs', 'a/./b', 'a/.', './a', '', 'a/', 'a b', '.hidden', 'a/.tmp-1', 'a\\b', 'é']
      for (const key of bad) {
        await expect(store.putIfAbsent(key, text('x')), key).rejects.toThrow(RangeError)
        await expect(store.put(key, text('x')), key).rejects.toThrow(RangeError)
        await expect(store.get(key), key).rejects.toThrow(RangeError)
        await expect(store.delete(key), key).rejects.toThrow(RangeError)
      }
      await expect(store.putIfAbsent('x'.repeat(513), text('x'))).rejects.toThrow(RangeError)
      for (const prefix of ['../', '/a', 'a//', 'a/../', 'a b', '..//x']) {
        await expect(store.list(prefix), prefix).rejects.toThrow(RangeError)
      }
      expect(await store.list('')).toEqual([])
    })

    it('50 concurrent putIfAbsent of one key: exactly one is created', async () => {
      const attempts = Array.from({ length: 50 }, (_, i) => text(`writer ${i}`))
      const results = await Promise.all(attempts.map((bytes) => store.putIfAbsent('race/one.json', bytes)))
      const winners = results.flatMap((r, i) => (r === 'created' ? [i] : []))
      expect(winners).toHaveLength(1)
      expect(results.filter((r) => r === 'exists')).toHaveLength(49)
      expectBytes(await store.get('race/one.json'), attempts[winners[0]!]!)
      expect(await store.list('race/')).toEqual(['race/one.json'])
    })

    it('concurrent writes of different keys all land', async () => {
      const keys = Array.from({ length: 100 }, (_, i) => `fan/s${i % 7}/events/${String(i).padStart(4, '0')}.json`)
      const results = await Promise.all(keys.map((key, i) => (i % 2 === 0 ? store.putIfAbsent(key, text(key)) : store.put(key, text(key)))))
      expect(results.filter((r) => r === 'created')).toHaveLength(50)
      expect(await store.list('fan/')).toEqual([...keys].sort(byteOrder))
      for (const key of keys) expectBytes(await store.get(key), text(key))
    })
  })
}
