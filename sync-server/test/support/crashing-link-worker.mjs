// A stand-in for fs-link-worker.mjs that dies on its first batch (fs-linker.test.ts).
import { parentPort } from 'node:worker_threads'

parentPort.on('message', () => {
  throw new Error('link worker crashed on purpose')
})
