/**
 * A timer that can be cut short: loops wait on it and are woken by events (stop, a new playlist, an ack).
 *
 * A wake is never lost. Each wake bumps a generation; a waiter remembers the generation it last saw, so a
 * wake that came while its loop was busy (drawing a frame, loading a channel) makes its next wait return at
 * once. Two or more wakes while busy make one early return, not several: a wake means "look again", and
 * one look sees everything that changed. (A wake that found nobody waiting used to be dropped: a stop
 * during a frame draw left the player asleep for the still's whole duration.)
 *
 * `wait` is the waiter of one loop (the play loop). Several loops sharing one Wakeable (the daemon's) each
 * take their own `waiter()`, so one loop's wait does not consume a wake another has not seen.
 */
export interface Waiter {
  /** Resolves after `ms`, or at the first wake since this waiter last returned (at once if one came). */
  wait(ms: number): Promise<void>
}

export class Wakeable {
  #generation = 0
  readonly #sleepers = new Set<() => void>()
  readonly #own: Waiter = this.waiter()

  wait(ms: number): Promise<void> {
    return this.#own.wait(ms)
  }

  /** A waiter of its own for one loop, seeing wakes from now on. */
  waiter(): Waiter {
    let seen = this.#generation
    return {
      wait: (ms) => {
        if (seen !== this.#generation) {
          seen = this.#generation
          return Promise.resolve()
        }
        return new Promise((resolve) => {
          const done = () => {
            clearTimeout(timer)
            this.#sleepers.delete(done)
            seen = this.#generation
            resolve()
          }
          const timer = setTimeout(done, ms)
          this.#sleepers.add(done)
        })
      },
    }
  }

  wake(): void {
    this.#generation++
    for (const sleeper of [...this.#sleepers]) sleeper()
  }
}
