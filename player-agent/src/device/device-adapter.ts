/**
 * Where the player shows art (STYLE.md practice 1): a terminal, a PNG file, a browser page — later a
 * LED matrix. Every implementation runs `runDeviceAdapterContract` (src/testing/device-adapter-contract.ts).
 */
import type { DeviceCapabilities } from '@pixpax/shared'

/** One decoded frame: RGBA, row-major, 4 bytes per pixel, `delayMs` before the next frame. */
export interface Frame {
  readonly width: number
  readonly height: number
  readonly rgba: Uint8Array
  readonly delayMs: number
}

/** What is on screen, for the display's own status page and the tests. */
export interface ShownArt {
  /** The blob hash of the artwork (`sha256:…`), or undefined for a system screen (pairing code). */
  readonly artwork: string | undefined
  readonly frameIndex: number
  readonly frame: Frame
}

export interface DeviceAdapter {
  /** What this display can do: the player filters and scales art by it, and reports it in heartbeats. */
  readonly capabilities: DeviceCapabilities
  /** Prepares the display (opens a socket, a file); called once before anything is shown. */
  open(): Promise<void>
  /**
   * Shows one frame, no larger than `capabilities.maxWidth × maxHeight` (the player scales first; a
   * larger frame is refused with a RangeError). Resolves once the frame is visible (written, flushed).
   */
  show(art: ShownArt): Promise<void>
  /** A line of text for system screens (the pairing code, "paired", errors). */
  message(text: string): Promise<void>
  /** What `show` last displayed, or undefined before the first frame. */
  current(): ShownArt | undefined
  /** Releases everything; idempotent. After close, show() rejects. */
  close(): Promise<void>
}

/** Throws a RangeError unless `frame` fits the capabilities and its buffer has the right length. */
export function assertFrameFits(frame: Frame, capabilities: DeviceCapabilities): void {
  if (!Number.isInteger(frame.width) || !Number.isInteger(frame.height) || frame.width < 1 || frame.height < 1)
    throw new RangeError(`frame size ${frame.width}×${frame.height} is not a positive integer size`)
  if (frame.width > capabilities.maxWidth || frame.height > capabilities.maxHeight)
    throw new RangeError(`frame ${frame.width}×${frame.height} exceeds the display's ${capabilities.maxWidth}×${capabilities.maxHeight}`)
  if (frame.rgba.length !== frame.width * frame.height * 4)
    throw new RangeError(`frame buffer is ${frame.rgba.length} bytes, expected ${frame.width * frame.height * 4}`)
}
