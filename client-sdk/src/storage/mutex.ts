/**
 * A promise-chain mutex: `run` calls its functions one after another, in call order, whatever each
 * one's outcome. The storage classes use one per file so that overlapping calls never interleave
 * their writes.
 */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve()

  /** Runs `fn` once every earlier `run` has settled; resolves or rejects with its result. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn)
    this.#tail = result.catch(() => undefined)
    return result
  }

  /** Resolves once every `run` called so far has settled. */
  idle(): Promise<void> {
    return this.#tail.then(() => undefined)
  }
}
