/**
 * A WebSocket man-in-the-middle for `/v1/sync`: forwards both ways, and lets a test rewrite what the
 * relay sends (alter, reorder, omit, replay, forge) or drop the connection after N messages.
 */
import type { AddressInfo } from 'node:net'
import { WebSocketServer, WebSocket } from 'ws'

export type Rewrite = (message: Record<string, unknown>, index: number) => Array<Record<string, unknown>> | 'drop-connection'

export interface HostileProxy {
  url: string
  /** Sends a message to every connected client, as if the relay had sent it. */
  inject(message: Record<string, unknown>): void
  close(): Promise<void>
}

export async function startProxy(relayUrl: string, rewrite: Rewrite = (m) => [m]): Promise<HostileProxy> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  let index = 0
  server.on('connection', (client, request) => {
    const upstream = new WebSocket(`${relayUrl.replace('http', 'ws')}${request.url}`)
    const early: string[] = []
    upstream.on('open', () => early.splice(0).forEach((m) => upstream.send(m)))
    client.on('message', (data) =>
      upstream.readyState === WebSocket.OPEN ? upstream.send((data as Buffer).toString()) : early.push((data as Buffer).toString()),
    )
    upstream.on('message', (data) => {
      const out = rewrite(JSON.parse((data as Buffer).toString()) as Record<string, unknown>, index++)
      if (out === 'drop-connection') {
        client.terminate()
        upstream.terminate()
        return
      }
      for (const m of out) client.send(JSON.stringify(m))
    })
    client.on('close', () => upstream.close())
    upstream.on('close', () => client.close())
    upstream.on('error', () => client.terminate())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    inject: (message) => {
      for (const c of server.clients) c.send(JSON.stringify(message))
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of server.clients) c.terminate()
        server.close(() => resolve())
      }),
  }
}
