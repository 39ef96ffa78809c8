/**
 * The relay's lists, remembered on disk: a hashtag or promoted feed and the takedown list answer from
 * the relay when it is reachable and from the last answer it gave otherwise — so a player restarted
 * with no network still plays its hashtag channel (every post of the remembered list is still checked
 * against its author's verified stream, held in the local log) and still skips what was taken down.
 * One JSON file, replaced atomically; only an answer that differs from the remembered one is written.
 */
import { readFile } from 'node:fs/promises'
import { atomicWriteFile } from '../fs/atomic-write.js'
import type { PostDirectory } from './relay-channel-source.js'

type Listed = Array<{ postId: string; author: string }>

interface Remembered {
  lists: Record<string, Listed>
  takedowns: string[]
}

export class RememberedLists {
  private state: Promise<Remembered> | undefined
  private writing: Promise<void> = Promise.resolve()

  constructor(
    private readonly file: string,
    private readonly warn: (line: string) => void = () => undefined,
  ) {}

  /** `directory` with its hashtag and promoted answers remembered (authorOf needs no memory: offline,
   * a playlist's posts are found in the verified streams held locally). */
  directory(directory: PostDirectory): PostDirectory {
    return {
      authorOf: (postId) => directory.authorOf(postId),
      hashtag: (tag, limit) => this.remembered(`hashtag:${tag}`, () => directory.hashtag(tag, limit)),
      promoted: (category, limit) => this.remembered(`promoted:${category ?? ''}`, () => directory.promoted(category, limit)),
    }
  }

  /** The takedown list: the relay's, else the last one it gave (empty before any). */
  async takedowns(fetchAll: () => Promise<Set<string>>): Promise<ReadonlySet<string>> {
    try {
      const fresh = await fetchAll()
      const state = await this.load()
      if (!sameSet(fresh, state.takedowns)) {
        state.takedowns = [...fresh]
        await this.save(state)
      }
      return fresh
    } catch {
      return new Set((await this.load()).takedowns)
    }
  }

  private async remembered(key: string, ask: () => Promise<Listed>): Promise<Listed> {
    let fresh: Listed
    try {
      fresh = await ask()
    } catch (error) {
      const old = (await this.load()).lists[key]
      if (old) return old
      throw error
    }
    const state = await this.load()
    if (JSON.stringify(state.lists[key]) !== JSON.stringify(fresh)) {
      state.lists[key] = fresh
      await this.save(state)
    }
    return fresh
  }

  private load(): Promise<Remembered> {
    this.state ??= readFile(this.file, 'utf8')
      .then((text) => {
        const json = JSON.parse(text) as Partial<Remembered>
        return { lists: json.lists ?? {}, takedowns: json.takedowns ?? [] }
      })
      .catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') this.warn(`channel lists: ${this.file}: ${error.message} (starting empty)`)
        return { lists: {}, takedowns: [] }
      })
    return this.state
  }

  /** Writes one after another, so an older state never lands after a newer one. */
  private save(state: Remembered): Promise<void> {
    // A failed write is reported, not fatal: the answer is still used, only not remembered.
    this.writing = this.writing
      .then(() => atomicWriteFile(this.file, JSON.stringify(state) + '\n'))
      .catch((error: unknown) => this.warn(`channel lists: ${this.file}: ${(error as Error).message}`))
    return this.writing
  }
}

function sameSet(a: ReadonlySet<string>, b: readonly string[]): boolean {
  return a.size === b.length && b.every((x) => a.has(x))
}
