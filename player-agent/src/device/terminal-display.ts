/**
 * The terminal renderer: two pixels per character cell with the upper half block `▀` — foreground is the
 * top pixel, background the bottom one — in 24-bit colour (SGR 38;2 / 48;2). Each frame redraws from the
 * home position so an animation plays in place; the player's loop does the timing.
 */
import type { DeviceCapabilities } from '@pixpax/shared'
import { assertFrameFits, type DeviceAdapter, type Frame, type ShownArt } from './device-adapter.js'

export interface TerminalDisplayOptions {
  out: NodeJS.WritableStream & { columns?: number; rows?: number }
  maxWidth?: number
  maxHeight?: number
}

/** Transparent pixels are drawn over black. */
function rgb(frame: Frame, x: number, y: number): [number, number, number] {
  if (y >= frame.height) return [0, 0, 0]
  const i = (y * frame.width + x) * 4
  const a = frame.rgba[i + 3]! / 255
  return [Math.round(frame.rgba[i]! * a), Math.round(frame.rgba[i + 1]! * a), Math.round(frame.rgba[i + 2]! * a)]
}

/** The ANSI text of one frame (without cursor movement): ⌈height/2⌉ lines. */
export function renderHalfBlocks(frame: Frame): string {
  const lines: string[] = []
  for (let y = 0; y < frame.height; y += 2) {
    let line = ''
    for (let x = 0; x < frame.width; x++) {
      const [tr, tg, tb] = rgb(frame, x, y)
      const [br, bg, bb] = rgb(frame, x, y + 1)
      line += `\x1b[38;2;${tr};${tg};${tb}m\x1b[48;2;${br};${bg};${bb}m▀`
    }
    lines.push(line + '\x1b[0m')
  }
  return lines.join('\n')
}

export class TerminalDisplay implements DeviceAdapter {
  readonly capabilities: DeviceCapabilities
  private shown: ShownArt | undefined
  private closed = false

  constructor(private readonly options: TerminalDisplayOptions) {
    // A cell is one pixel wide and two tall; keep a line free for the status text.
    const columns = options.out.columns ?? 80
    const rows = options.out.rows ?? 24
    this.capabilities = {
      display: 'terminal',
      maxWidth: options.maxWidth ?? Math.max(8, Math.min(256, columns)),
      maxHeight: options.maxHeight ?? Math.max(8, Math.min(256, (rows - 2) * 2)),
      animation: true,
      brightness: false,
      rotation: false,
      mirror: false,
    }
  }

  async open(): Promise<void> {
    this.write('\x1b[?25l\x1b[2J') // hide the cursor, clear
  }

  async show(art: ShownArt): Promise<void> {
    if (this.closed) throw new Error('the terminal display is closed')
    assertFrameFits(art.frame, this.capabilities)
    this.write('\x1b[H' + renderHalfBlocks(art.frame) + '\x1b[0J')
    this.shown = art
  }

  async message(text: string): Promise<void> {
    if (this.closed) throw new Error('the terminal display is closed')
    this.write(`\x1b[2J\x1b[H${text}\n`)
  }

  current(): ShownArt | undefined {
    return this.shown
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.write('\x1b[0m\x1b[?25h\n')
  }

  private write(text: string): void {
    this.options.out.write(text)
  }
}
