/**
 * The browser Web Worker entry of WorkerVerifier: bundle it as a module worker, e.g.
 * `new Worker(new URL('@pixpax/client-sdk/verify-worker', import.meta.url), { type: 'module' })`.
 */
import { createBatchHandler, type VerifyRequest } from './verify-batch.js'

const handle = createBatchHandler()
const scope = globalThis as unknown as { onmessage: ((event: { data: VerifyRequest }) => void) | null; postMessage(message: unknown): void }
scope.onmessage = (event) => {
  void handle(event.data).then((response) => scope.postMessage(response))
}
