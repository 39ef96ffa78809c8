// Worker half of VerifyPool (verify-pool.ts). Plain JavaScript so that a worker starts without a
// TypeScript loader, whatever way the parent process was started.
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import { parentPort } from 'node:worker_threads'

const keys = new Map()

function keyFor(xy) {
  const id = xy.toString('base64')
  let key = keys.get(id)
  if (!key) {
    if (keys.size >= 4096) keys.delete(keys.keys().next().value)
    const jwk = { kty: 'EC', crv: 'P-256', x: xy.subarray(0, 32).toString('base64url'), y: xy.subarray(32, 64).toString('base64url') }
    key = createPublicKey({ key: jwk, format: 'jwk' })
    keys.set(id, key)
  }
  return key
}

/** Private keys a `sign` message brought (by key id; the pool sends each key once per worker). */
const signingKeys = new Map()

// A sign batch: data length (uint32 BE), data, per message; the answer is r‖s (64 bytes) per message, in
// order (the pool normalizes S).
function signBatch({ id, keyId, key, buffer, count }) {
  try {
    if (key) signingKeys.set(keyId, createPrivateKey({ key, format: 'jwk' }))
    const privateKey = signingKeys.get(keyId)
    if (!privateKey) throw new Error(`no key ${keyId} in this worker`)
    const bytes = Buffer.from(buffer)
    const results = new Uint8Array(64 * count)
    let offset = 0
    for (let i = 0; i < count; i++) {
      const length = bytes.readUInt32BE(offset)
      results.set(sign('sha256', bytes.subarray(offset + 4, offset + 4 + length), { key: privateKey, dsaEncoding: 'ieee-p1363' }), 64 * i)
      offset += 4 + length
    }
    parentPort.postMessage({ id, results }, [results.buffer])
  } catch (error) {
    parentPort.postMessage({ id, error: String(error?.message ?? error) })
  }
}

// A verify batch is a sequence of jobs: x‖y (64 bytes), r‖s (64 bytes), data length (uint32 BE), data.
parentPort.on('message', (message) => {
  if (message.op === 'sign') return signBatch(message)
  const { id, buffer, count } = message
  const bytes = Buffer.from(buffer)
  const results = new Uint8Array(count)
  let offset = 0
  for (let i = 0; i < count; i++) {
    const xy = bytes.subarray(offset, offset + 64)
    const sig = bytes.subarray(offset + 64, offset + 128)
    const length = bytes.readUInt32BE(offset + 128)
    const data = bytes.subarray(offset + 132, offset + 132 + length)
    offset += 132 + length
    try {
      results[i] = verify('sha256', data, { key: keyFor(xy), dsaEncoding: 'ieee-p1363' }, sig) ? 1 : 0
    } catch {
      results[i] = 0
    }
  }
  parentPort.postMessage({ id, results }, [results.buffer])
})
