import { Worker } from 'node:worker_threads'
import { generatePrivateJwk, nobleSigner, normalizeLowS, P256_N } from '@pixpax/shared'
import { describe, expect, it } from 'vitest'
import type { VerifyResponse } from '../src/verify/verify-batch.js'
import { WorkerVerifier, type WorkerLike } from '../src/verify/worker-verifier.js'

/** Node worker threads behind the Web Worker interface the pool expects (the same handler runs in both). */
function nodeWorker(): WorkerLike {
  const worker = new Worker(
    `import { register } from 'tsx/esm/api'; register();
     const { parentPort } = await import('node:worker_threads');
     const { createBatchHandler } = await import(${JSON.stringify(new URL('../src/verify/verify-batch.ts', import.meta.url).href)});
     const handle = createBatchHandler();
     parentPort.on('message', async (m) => parentPort.postMessage(await handle(m)));`,
    { eval: true },
  )
  return {
    postMessage: (m, transfer) => worker.postMessage(m, transfer as ArrayBuffer[]),
    addEventListener: (_type, listener) => worker.on('message', (data: VerifyResponse) => listener({ data })),
    terminate: () => void worker.terminate(),
  }
}

describe('WorkerVerifier (WebCrypto in workers)', () => {
  it('verifies in parallel workers, in batches, with the same answers as the primitive', async () => {
    const signer = nobleSigner(generatePrivateJwk())
    const pool = new WorkerVerifier({ createWorker: nodeWorker, workers: 2, batchSize: 16 })
    try {
      const messages = Array.from({ length: 100 }, (_, i) => new TextEncoder().encode(`message ${i}`))
      const signatures = await Promise.all(messages.map((m) => signer.sign(m)))
      const good = await Promise.all(messages.map((m, i) => pool.verify(signer.publicKey, m, signatures[i]!)))
      expect(good.every(Boolean)).toBe(true)
      // Wrong message, flipped bit, and the high-S twin (valid raw ECDSA: the primitive accepts it).
      const wrong = await pool.verify(signer.publicKey, messages[1]!, signatures[0]!)
      const flipped = signatures[0]!.slice()
      flipped[10]! ^= 1
      const bad = await pool.verify(signer.publicKey, messages[0]!, flipped)
      const high = signatures[0]!.slice()
      const s = BigInt('0x' + Buffer.from(high.subarray(32)).toString('hex'))
      high.set(Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex'), 32)
      expect(normalizeLowS(high)).toEqual(signatures[0])
      expect([wrong, bad, await pool.verify(signer.publicKey, messages[0]!, high)]).toEqual([false, false, true])
    } finally {
      pool.close()
    }
  })
})
