/* global fetch, performance */
/**
 * The load generator of `pnpm bench media`, in a worker thread: clients uploading from another thread
 * (as remote clients would) so the relay's event loop does not also run them. Closed loops of
 * `clients` uploads in flight for about `seconds`; posts back how many completed and how long it took.
 * Plain JavaScript: a worker thread does not inherit tsx's loader on Node 20.
 *
 * workerData: { url, token, images: [{ hex, bytes }], clients, seconds }
 */
import { parentPort, workerData } from 'node:worker_threads'

const job = workerData
let next = 0
let done = 0
const start = performance.now()
const end = start + job.seconds * 1000
await Promise.all(
  Array.from({ length: job.clients }, async () => {
    while (performance.now() < end && next < job.images.length) {
      const img = job.images[next++]
      const res = await fetch(`${job.url}/v1/media/sha256/${img.hex}`, {
        method: 'PUT',
        headers: { 'content-type': 'image/png', authorization: `Bearer ${job.token}` },
        body: img.bytes,
      })
      const text = await res.text()
      if (res.status !== 201) throw new Error(`upload refused (${res.status}): ${text}`)
      done += 1
    }
  }),
)
parentPort.postMessage({ done, ms: performance.now() - start })
