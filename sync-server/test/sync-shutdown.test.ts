/**
 * A closing relay does not wait on its sync clients: one that never answers the close frame (a dead
 * peer, a client that stopped reading) is dropped after SYNC_SHUTDOWN_GRACE_MS, so a SIGTERM or a test's
 * close finishes in about a second instead of ws's 30 s close timeout — or never, when the close frame
 * itself cannot be written.
 */
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { SYNC_CLOSE } from '@pixpax/shared'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { SYNC_SHUTDOWN_GRACE_MS } from '../src/sync/sync-route.js'
import { startTestRelay } from '../src/testing.js'

/** Opens /v1/sync with a raw socket that completes the upgrade and then ignores everything it is sent. */
async function deafClient(url: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('error', reject))
  socket.write(
    [
      'GET /v1/sync HTTP/1.1',
      `Host: ${hostname}:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      '',
      '',
    ].join('\r\n'),
  )
  const head = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))))
  expect(head.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols')
  // From here on the bytes are read (so nothing backs up) and never answered: no close frame comes back.
  socket.on('data', () => undefined)
  return { socket, closed }
}

describe('relay shutdown with sync clients connected', () => {
  it('drops a client that never answers the close handshake after the grace, and finishes closing', async () => {
    const relay = await startTestRelay()
    const deaf = await deafClient(relay.url)
    const started = Date.now()
    // Without the grace this waits for ws's 30 s close timeout; the race fails it long before that.
    const outcome = await Promise.race([
      relay.close().then(() => 'closed' as const),
      new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), 10 * SYNC_SHUTDOWN_GRACE_MS).unref()),
    ])
    expect(outcome).toBe('closed')
    expect(Date.now() - started).toBeGreaterThanOrEqual(SYNC_SHUTDOWN_GRACE_MS - 50)
    await deaf.closed // the relay dropped the socket
    deaf.socket.destroy()
  }, 30_000)

  it('tells a connected client it is a shutdown (1001), which the client answers at once', async () => {
    const relay = await startTestRelay()
    const ws = new WebSocket(`${relay.url.replace(/^http/, 'ws')}/v1/sync`)
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject))
    const code = new Promise<number>((resolve) => ws.once('close', (c: number) => resolve(c)))
    await relay.close()
    expect(await code).toBe(SYNC_CLOSE.SHUTDOWN)
  })
})
