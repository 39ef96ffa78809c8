/**
 * The local HTTP display: a browser as a soft player. `GET /` is a page that shows `/frame.png` scaled
 * up with crisp pixels and replaces it whenever `/events` (Server-Sent Events) announces a new frame;
 * `/state.json` is what is on screen. Listens on 127.0.0.1 unless told otherwise.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { DeviceCapabilities } from '@pixpax/shared'
import { encodePng } from '../art/decode.js'
import { assertFrameFits, type DeviceAdapter, type ShownArt } from './device-adapter.js'

export interface HttpDisplayOptions {
  port?: number
  host?: string
  maxWidth?: number
  maxHeight?: number
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>PixPax player</title>
<style>html,body{margin:0;height:100%;background:#000;color:#ccc;font:14px system-ui}
body{display:flex;align-items:center;justify-content:center;flex-direction:column}
img{image-rendering:pixelated;width:min(90vw,90vh);height:min(90vw,90vh);object-fit:contain}</style></head>
<body><img id="art" alt=""><p id="message"></p>
<script>
const art = document.getElementById('art'), message = document.getElementById('message')
const events = new EventSource('/events')
events.addEventListener('frame', (e) => { art.src = '/frame.png?seq=' + JSON.parse(e.data).sequence })
events.addEventListener('message', (e) => { message.textContent = JSON.parse(e.data).text })
</script></body></html>`

export class HttpDisplay implements DeviceAdapter {
  readonly capabilities: DeviceCapabilities
  private shown: ShownArt | undefined
  private png: Buffer | undefined
  private text = ''
  private sequence = 0
  private server: Server | undefined
  private readonly clients = new Set<ServerResponse>()
  private closed = false

  constructor(private readonly options: HttpDisplayOptions = {}) {
    this.capabilities = {
      display: 'http',
      maxWidth: options.maxWidth ?? 512,
      maxHeight: options.maxHeight ?? 512,
      animation: true,
      brightness: false,
      rotation: false,
      mirror: false,
    }
  }

  /** The page's address once open, e.g. `http://127.0.0.1:8790/`. */
  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined
    if (!address) throw new Error('the HTTP display is not open')
    return `http://${address.address}:${address.port}/`
  }

  async open(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve())
    })
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed\n')
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE)
    } else if (path === '/frame.png') {
      if (!this.png) res.writeHead(404, { 'content-type': 'text/plain' }).end('no frame yet\n')
      else res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' }).end(this.png)
    } else if (path === '/state.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(this.state()))
    } else if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
      this.clients.add(res)
      req.on('close', () => this.clients.delete(res))
      if (this.png) res.write(`event: frame\ndata: ${JSON.stringify(this.state())}\n\n`)
      if (this.text) res.write(`event: message\ndata: ${JSON.stringify({ text: this.text })}\n\n`)
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
    }
  }

  private state(): Record<string, unknown> {
    const shown = this.shown
    return {
      sequence: this.sequence,
      artwork: shown?.artwork ?? null,
      frameIndex: shown?.frameIndex ?? null,
      width: shown?.frame.width ?? null,
      height: shown?.frame.height ?? null,
      message: this.text,
    }
  }

  private broadcast(event: string, data: unknown): void {
    for (const client of this.clients) client.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }

  async show(art: ShownArt): Promise<void> {
    if (this.closed || !this.server) throw new Error('the HTTP display is not open')
    assertFrameFits(art.frame, this.capabilities)
    this.png = encodePng(art.frame)
    this.shown = art
    this.sequence++
    this.broadcast('frame', this.state())
  }

  async message(text: string): Promise<void> {
    if (this.closed || !this.server) throw new Error('the HTTP display is not open')
    this.text = text
    this.broadcast('message', { text })
  }

  current(): ShownArt | undefined {
    return this.shown
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const client of this.clients) client.end()
    this.clients.clear()
    const server = this.server
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
