/** A FIFO async mutex: `run` calls `fn` once every earlier caller's `fn` has settled. */
export class Mutex {
  #tail: Promise<void> = Promise.resolve()

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn)
    // The next caller waits for this one to settle, whether it resolved or threw.
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    )
    return result
  }
}
