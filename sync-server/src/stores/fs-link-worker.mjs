// Worker half of FsLinker (fs-linker.ts): applies a batch of name changes off the relay's main thread.
// A batch: `paths` and `ops` ('create' | 'replace') per object, their bytes back to back in `buffer`
// with their lengths in `lengths`.
import { parentPort } from 'node:worker_threads'
import { applyLinkOps } from './fs-link-ops.mjs'

parentPort.on('message', ({ id, ops, paths, lengths, buffer }) => {
  const all = new Uint8Array(buffer)
  let offset = 0
  const batch = ops.map((op, i) => {
    const bytes = all.subarray(offset, offset + lengths[i])
    offset += lengths[i]
    return { op, path: paths[i], bytes }
  })
  parentPort.postMessage({ id, ...applyLinkOps(batch) })
})
