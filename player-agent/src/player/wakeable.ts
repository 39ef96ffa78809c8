/** A timer that can be cut short: loops wait on it and are woken by events (stop, a new playlist, an ack). */
export class Wakeable {
  private wakers = new Set<() => void>()

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.wakers.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.wakers.add(done)
    })
  }

  wake(): void {
    for (const waker of [...this.wakers]) waker()
  }
}
