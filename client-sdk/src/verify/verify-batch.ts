/**
 * The message format and the worker-side handler of WorkerVerifier, shared by every worker flavour
 * (browser Web Worker, Node worker thread in tests).
 *
 * A batch travels as one ArrayBuffer, transferred, not copied: per job a u16 index into `keys`, a u32
 * length, the 64-byte signature and the signed bytes. Structured cloning each job's key object and byte
 * arrays cost more on the page's main thread than the verify itself costs a worker (≈ 29 µs a job,
 * measured in `pnpm bench web`).
 */
import { webCryptoVerifier, type PublicJwk, type SignatureVerifier } from '@pixpax/shared'

export interface VerifyJob {
  publicKey: PublicJwk
  data: Uint8Array
  signature: Uint8Array
}
export interface VerifyRequest {
  id: number
  /** The distinct keys of the batch (usually one: catch-up of one author's stream). */
  keys: PublicJwk[]
  count: number
  jobs: ArrayBuffer
}
export interface VerifyResponse {
  id: number
  /** 1 where the job verified, 0 where it did not. */
  results: Uint8Array
}

const HEADER = 2 + 4 + 64

/** Packs jobs into one request; its `jobs` buffer is meant to be transferred. */
export function packVerifyRequest(id: number, jobs: readonly VerifyJob[]): VerifyRequest {
  const keys: PublicJwk[] = []
  const keyIndex = new Map<string, number>()
  let size = 0
  for (const job of jobs) size += HEADER + job.data.length
  const buffer = new ArrayBuffer(size)
  const bytes = new Uint8Array(buffer)
  const view = new DataView(buffer)
  let at = 0
  for (const job of jobs) {
    const id = `${job.publicKey.x}.${job.publicKey.y}`
    let index = keyIndex.get(id)
    if (index === undefined) {
      index = keys.length
      keys.push(job.publicKey)
      keyIndex.set(id, index)
    }
    view.setUint16(at, index)
    view.setUint32(at + 2, job.data.length)
    // A signature that is not 64 bytes cannot verify: zeros, which WebCrypto refuses.
    if (job.signature.length === 64) bytes.set(job.signature, at + 6)
    bytes.set(job.data, at + HEADER)
    at += HEADER + job.data.length
  }
  return { id, keys, count: jobs.length, jobs: buffer }
}

/** Runs one batch with WebCrypto (the worker's own verifier; imported keys are cached per worker). */
export function createBatchHandler(verifier: SignatureVerifier = webCryptoVerifier()): (request: VerifyRequest) => Promise<VerifyResponse> {
  return async ({ id, keys, count, jobs }) => {
    const view = new DataView(jobs)
    const checks: Array<Promise<boolean>> = []
    let at = 0
    for (let i = 0; i < count; i++) {
      const key = keys[view.getUint16(at)]!
      const length = view.getUint32(at + 2)
      const signature = new Uint8Array(jobs, at + 6, 64)
      const data = new Uint8Array(jobs, at + HEADER, length)
      checks.push(Promise.resolve(verifier.verify(key, data, signature)).catch(() => false))
      at += HEADER + length
    }
    const verdicts = await Promise.all(checks)
    return { id, results: Uint8Array.from(verdicts, (ok) => (ok ? 1 : 0)) }
  }
}
