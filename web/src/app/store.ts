/** A tiny observable value and the Preact hook that re-renders on its changes (no state library). */
import { useEffect, useState } from 'preact/hooks'

export class Store<T> {
  #value: T
  readonly #listeners = new Set<(value: T) => void>()

  constructor(initial: T) {
    this.#value = initial
  }

  get value(): T {
    return this.#value
  }

  set(value: T): void {
    if (Object.is(value, this.#value)) return
    this.#value = value
    for (const listener of this.#listeners) listener(value)
  }

  subscribe(listener: (value: T) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}

export function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState(store.value)
  useEffect(() => {
    setValue(store.value)
    return store.subscribe(setValue)
  }, [store])
  return value
}
