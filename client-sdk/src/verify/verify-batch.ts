/**
 * The message format and the worker-side handler of WorkerVerifier, shared by every worker flavour
 * (browser Web Worker, Node worker thread in tests).
 */
import { webCryptoVerifier, type PublicJwk, type SignatureVerifier } from '@pixpax/shared'

export interface VerifyJob {
  publicKey: PublicJwk
  data: Uint8Array
  signature: Uint8Array
}
export interface VerifyRequest {
  id: number
  jobs: VerifyJob[]
}
export interface VerifyResponse {
  id: number
  results: boolean[]
}

/** Runs one batch with WebCrypto (the worker's own verifier; imported keys are cached per worker). */
export function createBatchHandler(verifier: SignatureVerifier = webCryptoVerifier()): (request: VerifyRequest) => Promise<VerifyResponse> {
  return async ({ id, jobs }) => ({
    id,
    results: await Promise.all(jobs.map(async (job) => Boolean(await verifier.verify(job.publicKey, job.data, job.signature)))),
  })
}
