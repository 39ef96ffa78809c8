/**
 * An HTTP + WebSocket proxy in front of the relay, on a port that outlives relay restarts (the player's
 * RELAY_URL stays valid while the test stops and restarts the relay behind it). It can hold a blob
 * download half-sent — headers and the first half of the bytes, then nothing — so a test can kill the
 * player in the middle of a download, deterministically.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'

export interface RelayProxy {
  url: string
  /** Points the proxy at another relay (after a restart). */
  retarget(relayUrl: string): void
  /** Holds GETs of this blob after half its bytes; `stalled` resolves when the first one is held. */
  stallBlob(hex: string): { stalled: Promise<void>; release: () => void }
  close(): Promise<void>
}

/** `port`: 0 for any free one, or the port of a closed proxy to stand in for it again (the relay "comes back"). */
export async function startRelayProxy(relayUrl: string, port = 0): Promise<RelayProxy> {
  let target = new URL(relayUrl)
  const stalls = new Map<string, () => void>()
  const sockets = new Set<Socket>()

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const hex = /^\/v1\/(?:blobs|media)\/sha256\/([0-9a-f]{64})/.exec(req.url ?? '')?.[1]
    const stall = hex ? stalls.get(hex) : undefined
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (stall && up.statusCode === 200) {
          const chunks: Buffer[] = []
          up.on('data', (c: Buffer) => chunks.push(c))
          up.on('end', () => {
            const body = Buffer.concat(chunks)
            res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) })
            res.write(body.subarray(0, Math.floor(body.length / 2)), () => stall())
          })
          return
        }
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      },
    )
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'relay unreachable', requestId: 'proxy' } }))
    })
    req.pipe(upstream)
  }

  const server = createServer(forward)
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  // WebSocket: replay the upgrade request's head to the relay, then splice the two sockets.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const up = connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`]
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
      up.write(lines.join('\r\n') + '\r\n\r\n')
      if (head.length) up.write(head)
      up.pipe(socket)
      socket.pipe(up)
    })
    sockets.add(up)
    up.on('close', () => {
      sockets.delete(up)
      socket.destroy()
    })
    up.on('error', () => socket.destroy())
    socket.on('error', () => up.destroy())
    socket.on('close', () => up.destroy())
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()))
  const bound = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${bound}`,
    retarget(url) {
      target = new URL(url)
    },
    stallBlob(hex) {
      let resolve!: () => void
      const stalled = new Promise<void>((r) => (resolve = r))
      stalls.set(hex, resolve)
      return { stalled, release: () => stalls.delete(hex) }
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Polls `probe` until it returns a value (for relay state with no event to wait on); fails after `timeoutMs`. */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000, explain?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${explain ? `\n${explain()}` : ''}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
