/**
 * A tampering relay for the browser tests: an HTTP proxy in front of the real relay (the app, its API and
 * its service worker all come through it, one origin) whose `/v1/sync` WebSocket lets the test rewrite
 * what the relay sends — e.g. alter a delivered receipt — like client-sdk's hostile proxy does for Node.
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'

export type Rewrite = (message: Record<string, unknown>) => Record<string, unknown>

export interface TamperProxy {
  url: string
  close(): Promise<void>
}

export async function startTamperProxy(relayUrl: string, rewrite: Rewrite): Promise<TamperProxy> {
  const upstream = new URL(relayUrl)
  const server = createServer((req, res) => {
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  })
  const sockets = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    sockets.handleUpgrade(req, socket, head, (client) => {
      const relay = new WebSocket(`${relayUrl.replace(/^http/, 'ws')}${req.url}`)
      const early: string[] = []
      relay.on('open', () => early.splice(0).forEach((m) => relay.send(m)))
      client.on('message', (data) => {
        const text = (data as Buffer).toString()
        if (relay.readyState === WebSocket.OPEN) relay.send(text)
        else early.push(text)
      })
      relay.on('message', (data) =>
        client.send(JSON.stringify(rewrite(JSON.parse((data as Buffer).toString()) as Record<string, unknown>))),
      )
      client.on('close', () => relay.close())
      relay.on('close', () => client.close())
      relay.on('error', () => client.terminate())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of sockets.clients) c.terminate()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
