/**
 * Signature verification off the main thread, for browsers: verifying on the main thread freezes the
 * page during a catch-up (measured in Chromium: WebCrypto ~9.5k verifies/s per thread, ~18k/s in two
 * workers). A pool of workers, each running `verify-worker.ts`; jobs are sent in batches so the message
 * cost per signature stays small. The sync engine starts verifications ahead (SyncClient.verifyAhead),
 * so the workers stay busy while the ordered rules run on the main thread.
 */
import type { PublicJwk, SignatureVerifier } from '@pixpax/shared'
import { packVerifyRequest, type VerifyJob, type VerifyRequest, type VerifyResponse } from './verify-batch.js'

/** What the pool needs of a worker: the Web Worker API subset (a Node adapter fits it in tests). */
export interface WorkerLike {
  /** `transfer`: the request's `jobs` buffer, moved to the worker (Worker.postMessage's transfer list). */
  postMessage(message: VerifyRequest, transfer: Transferable[]): void
  addEventListener(type: 'message', listener: (event: { data: VerifyResponse }) => void): void
  terminate(): void
}

export interface WorkerVerifierOptions {
  /** Creates one worker, e.g. `() => new Worker(new URL('./verify-worker.js', import.meta.url), { type: 'module' })`. */
  createWorker: () => WorkerLike
  /** Workers in the pool (default: navigator.hardwareConcurrency, at least 1, at most 4). */
  workers?: number
  /** Jobs per message (default 128). */
  batchSize?: number
}

export class WorkerVerifier implements SignatureVerifier {
  readonly name = 'web-workers'
  private readonly workers: Array<{ worker: WorkerLike; pending: number }>
  private readonly batchSize: number
  private readonly waiting = new Map<number, { resolvers: Array<(ok: boolean) => void>; worker: { pending: number } }>()
  private queue: Array<{ job: VerifyJob; resolve: (ok: boolean) => void }> = []
  private nextId = 1
  private scheduled = false

  constructor(options: WorkerVerifierOptions) {
    const hardware = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 2
    const count = Math.max(1, options.workers ?? Math.min(4, hardware))
    this.batchSize = options.batchSize ?? 128
    this.workers = Array.from({ length: count }, () => {
      const entry = { worker: options.createWorker(), pending: 0 }
      entry.worker.addEventListener('message', ({ data }) => {
        const waiting = this.waiting.get(data.id)
        if (!waiting) return
        this.waiting.delete(data.id)
        waiting.worker.pending -= waiting.resolvers.length
        waiting.resolvers.forEach((resolve, i) => resolve(data.results[i] === 1))
      })
      return entry
    })
  }

  verify(publicKey: PublicJwk, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return new Promise((resolve) => {
      this.queue.push({ job: { publicKey, data, signature }, resolve })
      if (this.queue.length >= this.batchSize) this.flush()
      else if (!this.scheduled) {
        this.scheduled = true
        queueMicrotask(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.batchSize)
      const target = this.workers.reduce((a, b) => (b.pending < a.pending ? b : a))
      target.pending += batch.length
      const id = this.nextId++
      this.waiting.set(id, { resolvers: batch.map((b) => b.resolve), worker: target })
      const request = packVerifyRequest(
        id,
        batch.map((b) => b.job),
      )
      target.worker.postMessage(request, [request.jobs])
    }
  }

  close(): void {
    for (const { worker } of this.workers) worker.terminate()
    for (const { resolvers } of this.waiting.values()) for (const resolve of resolvers) resolve(false)
    this.waiting.clear()
  }
}
