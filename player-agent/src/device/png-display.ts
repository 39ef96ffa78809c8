/**
 * The PNG frame writer: the current frame as `frame.png` (replaced atomically, so a reader never sees a
 * half-written image) and `frame.json` beside it (artwork hash, frame index, size) — for headless
 * players and tests.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { DeviceCapabilities } from '@pixpax/shared'
import { encodePng } from '../art/decode.js'
import { atomicWriteFile, removeTempFiles } from '../fs/atomic-write.js'
import { assertFrameFits, type DeviceAdapter, type ShownArt } from './device-adapter.js'

export interface PngDisplayOptions {
  dir: string
  maxWidth?: number
  maxHeight?: number
  /** Write every frame of an animation (default) or only each artwork's first frame. */
  animation?: boolean
}

export class PngDisplay implements DeviceAdapter {
  readonly capabilities: DeviceCapabilities
  private shown: ShownArt | undefined
  private closed = false
  private sequence = 0

  constructor(private readonly options: PngDisplayOptions) {
    this.capabilities = {
      display: 'png',
      maxWidth: options.maxWidth ?? 256,
      maxHeight: options.maxHeight ?? 256,
      animation: options.animation ?? true,
      brightness: false,
      rotation: false,
      mirror: false,
    }
  }

  get framePath(): string {
    return join(this.options.dir, 'frame.png')
  }

  get metaPath(): string {
    return join(this.options.dir, 'frame.json')
  }

  async open(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true })
    await removeTempFiles(this.options.dir)
  }

  async show(art: ShownArt): Promise<void> {
    if (this.closed) throw new Error('the PNG display is closed')
    assertFrameFits(art.frame, this.capabilities)
    await atomicWriteFile(this.framePath, encodePng(art.frame))
    this.sequence++
    const meta = {
      artwork: art.artwork ?? null,
      frameIndex: art.frameIndex,
      width: art.frame.width,
      height: art.frame.height,
      sequence: this.sequence,
    }
    await atomicWriteFile(this.metaPath, JSON.stringify(meta) + '\n')
    this.shown = art
  }

  async message(text: string): Promise<void> {
    if (this.closed) throw new Error('the PNG display is closed')
    await atomicWriteFile(join(this.options.dir, 'message.txt'), text + '\n')
  }

  current(): ShownArt | undefined {
    return this.shown
  }

  async close(): Promise<void> {
    this.closed = true
  }
}
