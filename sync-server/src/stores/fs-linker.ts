/**
 * Where the fs store makes journaled objects visible (fs-link-ops.mjs: temp file, then link or rename).
 * Under 1,000 one-receipt appends a second those syscalls were ~12 % of the relay's main thread (~100 µs
 * an object on this VM, where every syscall is dear) while the other core sat 20–25 % idle; the worker
 * does them there, one message per batch. Inline is the same code on the caller's thread (one core,
 * tests, CLIs that write little).
 */
import { Worker } from 'node:worker_threads'
import { applyLinkOps, type LinkOp, type LinkOpsResult } from './fs-link-ops.mjs'

export type { LinkOp, LinkOpsResult, LinkOutcome } from './fs-link-ops.mjs'

export interface FsLinker {
  /** Applies `ops` in order, stopping at the first that fails (see applyLinkOps). */
  apply(ops: readonly LinkOp[]): Promise<LinkOpsResult>
  close(): Promise<void>
}

export function inlineLinker(): FsLinker {
  return {
    apply: (ops) => Promise.resolve(applyLinkOps(ops)),
    close: () => Promise.resolve(),
  }
}

interface InFlight {
  resolve: (result: LinkOpsResult) => void
  reject: (error: Error) => void
}

/**
 * One worker thread, started on first use; unref'd while idle so it never keeps a process alive. Should
 * it die, the batches it held fail and every later one runs inline.
 */
export class WorkerLinker implements FsLinker {
  #worker: Worker | undefined
  /** Why the worker died, if it did. */
  #failure: Error | undefined
  readonly #inFlight = new Map<number, InFlight>()
  /** close() waiting for the batches under way. */
  #drained: Array<() => void> = []
  #nextId = 1

  /** `workerUrl`: the worker's module (tests swap in one that crashes). */
  constructor(private readonly workerUrl = new URL('./fs-link-worker.mjs', import.meta.url)) {}

  apply(ops: readonly LinkOp[]): Promise<LinkOpsResult> {
    // A worker that crashed failed the batches it held (their callers saw the error); the rest run inline.
    if (this.#failure) return Promise.resolve(applyLinkOps(ops))
    if (ops.length === 0) return Promise.resolve({ outcomes: [] })
    const worker = (this.#worker ??= this.#spawn())
    let size = 0
    for (const op of ops) size += op.bytes.byteLength
    const buffer = new ArrayBuffer(size)
    const all = new Uint8Array(buffer)
    const lengths: number[] = []
    let offset = 0
    for (const op of ops) {
      all.set(op.bytes, offset)
      offset += op.bytes.byteLength
      lengths.push(op.bytes.byteLength)
    }
    const id = this.#nextId++
    if (this.#inFlight.size === 0) worker.ref()
    return new Promise<LinkOpsResult>((resolve, reject) => {
      this.#inFlight.set(id, { resolve, reject })
      worker.postMessage({ id, ops: ops.map((o) => o.op), paths: ops.map((o) => o.path), lengths, buffer }, [buffer])
    })
  }

  #idle(worker: Worker): void {
    worker.unref()
    for (const resolve of this.#drained.splice(0)) resolve()
  }

  #spawn(): Worker {
    const worker = new Worker(this.workerUrl)
    worker.unref()
    worker.on('message', ({ id, ...result }: { id: number } & LinkOpsResult) => {
      const waiting = this.#inFlight.get(id)
      if (!waiting) return
      this.#inFlight.delete(id)
      waiting.resolve(result)
      if (this.#inFlight.size === 0) this.#idle(worker)
    })
    const fail = (error: Error): void => {
      this.#failure ??= error
      for (const waiting of this.#inFlight.values()) waiting.reject(error)
      this.#inFlight.clear()
      this.#idle(worker)
    }
    worker.on('error', fail)
    // Terminated by close() is no failure; any other exit is.
    worker.on('exit', (code) => {
      if (this.#worker === worker) fail(new Error(`the fs store's link worker exited (code ${code})`))
    })
    return worker
  }

  async close(): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined // a later apply starts a new one (a store can be used again after close)
    if (!worker) return
    // Whatever is under way finishes first: its records are durable and its callers wait for the names.
    if (this.#inFlight.size > 0) await new Promise<void>((resolve) => this.#drained.push(resolve))
    await worker.terminate()
  }
}
