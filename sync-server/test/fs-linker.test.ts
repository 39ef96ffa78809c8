import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { inlineLinker, WorkerLinker, type FsLinker } from '../src/stores/fs-linker.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Every entry under `dir`, recursively (temp files included). */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort()
}

// The conformance suite of the fs store's linker: the worker and the inline one must be the same.
for (const [name, make] of [
  ['inline', () => inlineLinker()],
  ['worker', () => new WorkerLinker()],
] as Array<[string, () => FsLinker]>) {
  describe(`FsLinker (${name})`, () => {
    let root: string
    let linker: FsLinker
    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'pixpax-linker-'))
      await mkdir(join(root, 'd'))
      linker = make()
    })
    afterEach(async () => {
      await linker.close()
      await rm(root, { recursive: true, force: true })
    })

    it('creates new names, never over an existing one, and replaces; no temp file left', async () => {
      const a = join(root, 'd', 'a.json')
      expect(await linker.apply([{ op: 'create', path: a, bytes: text('first') }])).toEqual({ outcomes: ['created'] })
      expect(await linker.apply([{ op: 'create', path: a, bytes: text('second') }])).toEqual({ outcomes: ['exists'] })
      expect(await readFile(a, 'utf8')).toBe('first')
      expect(await linker.apply([{ op: 'replace', path: a, bytes: text('third') }])).toEqual({ outcomes: ['replaced'] })
      expect(await readFile(a, 'utf8')).toBe('third')
      expect(await tree(root)).toEqual(['d', join('d', 'a.json')])
    })

    it('applies a batch in order, each object its own bytes (empty ones too)', async () => {
      const ops = Array.from({ length: 200 }, (_, i) => ({
        op: 'create' as const,
        path: join(root, 'd', `${String(i).padStart(3, '0')}.json`),
        bytes: text('x'.repeat(i)),
      }))
      const { outcomes, failure } = await linker.apply(ops)
      expect(failure).toBeUndefined()
      expect(outcomes).toEqual(ops.map(() => 'created'))
      for (const [i, op] of ops.entries()) expect(await readFile(op.path, 'utf8')).toBe('x'.repeat(i))
      expect((await tree(join(root, 'd'))).length).toBe(200)
    })

    it('answers conflict where a directory of other keys holds the name, and leaves it alone', async () => {
      await mkdir(join(root, 'd', 'x', 'y'), { recursive: true })
      await writeFile(join(root, 'd', 'x', 'y', 'z'), 'other')
      const x = join(root, 'd', 'x')
      expect((await linker.apply([{ op: 'create', path: x, bytes: text('a') }])).outcomes).toEqual(['conflict'])
      expect((await linker.apply([{ op: 'replace', path: x, bytes: text('a') }])).outcomes).toEqual(['conflict'])
      expect(await readFile(join(x, 'y', 'z'), 'utf8')).toBe('other')
      expect(await tree(join(root, 'd'))).toEqual(['x', join('x', 'y'), join('x', 'y', 'z')])
    })

    it('stops at the first op that fails, with its errno code: the ones before applied, the ones after not', async () => {
      const ops = [
        { op: 'create' as const, path: join(root, 'd', '1'), bytes: text('1') },
        { op: 'create' as const, path: join(root, 'gone', '2'), bytes: text('2') },
        { op: 'create' as const, path: join(root, 'd', '3'), bytes: text('3') },
      ]
      const result = await linker.apply(ops)
      expect(result.outcomes).toEqual(['created'])
      expect(result.failure?.code).toBe('ENOENT')
      expect(existsSync(join(root, 'd', '1'))).toBe(true)
      expect(existsSync(join(root, 'd', '3'))).toBe(false)
    })

    it('can be used again after close', async () => {
      await linker.close()
      expect((await linker.apply([{ op: 'create', path: join(root, 'd', 'after'), bytes: text('a') }])).outcomes).toEqual(['created'])
    })
  })
}

describe('WorkerLinker when its worker dies', () => {
  it('fails the batch it held, then links inline', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pixpax-linker-'))
    const linker = new WorkerLinker(new URL('./support/crashing-link-worker.mjs', import.meta.url))
    try {
      await expect(linker.apply([{ op: 'create', path: join(root, 'a'), bytes: text('a') }])).rejects.toThrow(/crashed on purpose/)
      expect(await linker.apply([{ op: 'create', path: join(root, 'b'), bytes: text('b') }])).toEqual({ outcomes: ['created'] })
      expect(await readFile(join(root, 'b'), 'utf8')).toBe('b')
    } finally {
      await linker.close()
      await rm(root, { recursive: true, force: true })
    }
  })
})
