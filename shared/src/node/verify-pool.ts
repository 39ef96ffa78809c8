/**
 * Signature verification on worker threads. A verify costs ~60 µs of one core while parsing, hashing
 * and chain rules cost less than half of that, so on a multi-core machine the verifier overlaps them:
 * the caller starts verifications ahead (ChainVerifier.prepare) and the pool spreads them over workers
 * in batches, which keeps message overhead per signature to a few microseconds.
 *
 * The same workers sign batches for a key handed to `signer` (the relay's acks: one per accepted
 * receipt). node:crypto's callback form puts each signature on libuv's thread pool instead, and with the
 * relay's 64 pool threads every job woke a sleeping thread: ~24 µs of the caller's thread per signature,
 * about what signing it there costs (~26 µs). One message per batch costs the caller a few µs in all.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { base64UrlDecode } from '../encoding.js'
import type { PrivateJwk, PublicJwk } from '../crypto/jwk.js'
import { normalizeLowS } from '../crypto/p256.js'
import type { SignatureVerifier, Signer } from '../crypto/types.js'
import { nodeSigner } from './node-crypto.js'

interface Job {
  xy: Uint8Array
  signature: Uint8Array
  data: Uint8Array
  resolve: (ok: boolean) => void
  reject: (error: Error) => void
}

/** A message in flight: what its answer settles, and how many jobs it holds (the worker's load). */
interface Batch {
  jobs: number
  worker: PoolWorker
  settle: (results: Uint8Array) => void
  fail: (error: Error) => void
}

interface PoolWorker {
  worker: Worker
  pending: number
}

export interface VerifyPoolOptions {
  /** Worker threads (default: the machine's available parallelism). */
  workers?: number
  /** Jobs per message (default 256). */
  batchSize?: number
}

export class VerifyPool implements SignatureVerifier {
  readonly name = 'node-pool'
  private readonly workers: PoolWorker[]
  private readonly batchSize: number
  private readonly inFlight = new Map<number, Batch>()
  private queue: Job[] = []
  private nextId = 1
  private flushScheduled = false
  private failure: Error | undefined
  /** Decoded points by key object (see pointOf); the coordinates are kept to notice a key object changed. */
  private readonly points = new WeakMap<PublicJwk, { x: string; y: string; xy: Uint8Array }>()

  constructor(options: VerifyPoolOptions = {}) {
    const count = Math.max(1, options.workers ?? availableParallelism())
    this.batchSize = options.batchSize ?? 256
    this.workers = Array.from({ length: count }, () => this.spawn())
  }

  private spawn(): PoolWorker {
    const worker = new Worker(new URL('./verify-worker.mjs', import.meta.url))
    const entry: PoolWorker = { worker, pending: 0 }
    worker.on('message', ({ id, results, error }: { id: number; results?: Uint8Array; error?: string }) => {
      const batch = this.inFlight.get(id)
      if (!batch) return
      this.inFlight.delete(id)
      entry.pending -= batch.jobs
      if (entry.pending === 0) worker.unref()
      if (results) batch.settle(results)
      else batch.fail(new Error(`signing worker: ${error}`))
    })
    const failAll = (error: Error): void => {
      this.failure ??= error
      for (const [id, batch] of this.inFlight) {
        if (batch.worker !== entry) continue
        this.inFlight.delete(id)
        batch.fail(error)
      }
    }
    worker.on('error', failAll)
    // Terminated by close() or gone by itself: nothing more is answered there.
    worker.on('exit', () => failAll(new Error('the verify pool is closed (or its worker exited)')))
    // Idle workers must not keep the process alive; busy ones must (see flush).
    worker.unref()
    return entry
  }

  verify(publicKey: PublicJwk, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (this.failure) return Promise.reject(this.failure)
    const xy = this.pointOf(publicKey)
    if (signature.length !== 64 || !xy) return Promise.resolve(false)
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ xy, signature, data, resolve, reject })
      if (this.queue.length >= this.batchSize) this.flush()
      else if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  /**
   * x‖y of a key, decoded once per key object: catch-up verifies thousands of receipts under the one key
   * object the ledger holds, and decoding it per receipt was two allocations each. Undefined: not a point.
   */
  private pointOf(publicKey: PublicJwk): Uint8Array | undefined {
    const cached = this.points.get(publicKey)
    if (cached && cached.x === publicKey.x && cached.y === publicKey.y) return cached.xy
    const x = base64UrlDecode(publicKey.x)
    const y = base64UrlDecode(publicKey.y)
    if (!x || !y || x.length !== 32 || y.length !== 32) return undefined
    const xy = new Uint8Array(64)
    xy.set(x, 0)
    xy.set(y, 32)
    this.points.set(publicKey, { x: publicKey.x, y: publicKey.y, xy })
    return xy
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.failure) {
      // Queued before a worker died or the pool closed: no worker would answer them.
      for (const job of this.queue.splice(0)) job.reject(this.failure)
      return
    }
    while (this.queue.length > 0) {
      const jobs = this.queue.splice(0, this.batchSize)
      let size = 0
      for (const job of jobs) size += 132 + job.data.length
      const buffer = new ArrayBuffer(size)
      const bytes = new Uint8Array(buffer)
      const view = new DataView(buffer)
      let offset = 0
      for (const job of jobs) {
        bytes.set(job.xy, offset)
        bytes.set(job.signature, offset + 64)
        view.setUint32(offset + 128, job.data.length)
        bytes.set(job.data, offset + 132)
        offset += 132 + job.data.length
      }
      this.postTo(
        this.leastLoaded(),
        { id: 0, buffer, count: jobs.length },
        [buffer],
        jobs.length,
        (results) => jobs.forEach((job, i) => job.resolve(results[i] === 1)),
        (error) => jobs.forEach((job) => job.reject(error)),
      )
    }
  }

  private leastLoaded(): PoolWorker {
    return this.workers.reduce((a, b) => (b.pending < a.pending ? b : a))
  }

  /** Sends a message (its id filled in) to `worker`; `settle` gets its answer, `fail` its worker's death. */
  private postTo(
    worker: PoolWorker,
    message: { id: number } & Record<string, unknown>,
    transfer: ArrayBuffer[],
    jobs: number,
    settle: (results: Uint8Array) => void,
    fail: (error: Error) => void,
  ): void {
    if (worker.pending === 0) worker.worker.ref()
    worker.pending += jobs
    const id = this.nextId++
    this.inFlight.set(id, { jobs, worker, settle, fail })
    worker.worker.postMessage({ ...message, id }, transfer)
  }

  /**
   * A signer over `jwk` whose `signBatch` runs on the pool's workers, one message per batch; `sign` (one
   * at a time: checkpoints) stays on the caller's thread, where one signature costs less than a message.
   * The private key goes to each worker once, with its first batch there. A batch a dying worker held
   * fails; once a worker has died, batches are signed as nodeSigner signs them.
   */
  signer(jwk: PrivateJwk): Signer {
    const local = nodeSigner(jwk)
    const keyId = local.publicKeyId
    const key = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d }
    const told = new WeakSet<PoolWorker>()
    return {
      publicKey: local.publicKey,
      publicKeyId: local.publicKeyId,
      sign: (data) => local.sign(data),
      signBatch: (data) => {
        // A pool whose worker died signs on the caller's side (libuv's threads), as nodeSigner does.
        if (this.failure) return local.signBatch!(data)
        if (data.length === 0) return Promise.resolve([])
        let size = 0
        for (const d of data) size += 4 + d.length
        const buffer = new ArrayBuffer(size)
        const bytes = new Uint8Array(buffer)
        const view = new DataView(buffer)
        let offset = 0
        for (const d of data) {
          view.setUint32(offset, d.length)
          bytes.set(d, offset + 4)
          offset += 4 + d.length
        }
        return new Promise<Uint8Array[]>((resolve, reject) => {
          const worker = this.leastLoaded()
          const message = { id: 0, op: 'sign', keyId, buffer, count: data.length, ...(told.has(worker) ? {} : { key }) }
          told.add(worker)
          this.postTo(
            worker,
            message,
            [buffer],
            data.length,
            (signatures) => {
              const out: Uint8Array[] = []
              for (let i = 0; i < data.length; i++) out.push(normalizeLowS(signatures.slice(i * 64, i * 64 + 64)))
              resolve(out)
            },
            reject,
          )
        })
      },
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()))
  }
}
