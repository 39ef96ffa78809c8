/** Every display runs the DeviceAdapter conformance suite, each proving frames reach its medium. */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { PNG } from 'pngjs'
import { describe, expect, it } from 'vitest'
import { HttpDisplay } from '../src/device/http-display.js'
import { PngDisplay } from '../src/device/png-display.js'
import { renderHalfBlocks, TerminalDisplay } from '../src/device/terminal-display.js'
import { runDeviceAdapterContract, solidFrame } from '../src/testing/device-adapter-contract.js'

runDeviceAdapterContract('PngDisplay', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pixpax-png-'))
  const adapter = new PngDisplay({ dir, maxWidth: 64, maxHeight: 64 })
  return {
    adapter,
    inspect: async () => {
      const png = PNG.sync.read(await readFile(adapter.framePath))
      const meta = JSON.parse(await readFile(adapter.metaPath, 'utf8')) as { width: number; height: number }
      expect([meta.width, meta.height]).toEqual([png.width, png.height])
      return { width: png.width, height: png.height, rgba: new Uint8Array(png.data) }
    },
    done: () => rm(dir, { recursive: true, force: true }),
  }
})

runDeviceAdapterContract('HttpDisplay', async () => {
  const adapter = new HttpDisplay({ port: 0, maxWidth: 64, maxHeight: 64 })
  return {
    adapter,
    inspect: async () => {
      const res = await fetch(new URL('/frame.png', adapter.url))
      expect(res.headers.get('content-type')).toBe('image/png')
      const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()))
      return { width: png.width, height: png.height, rgba: new Uint8Array(png.data) }
    },
  }
})

const ESC = String.fromCharCode(27)
const CELL = new RegExp(`${ESC}\\[38;2;(\\d+);(\\d+);(\\d+)m${ESC}\\[48;2;(\\d+);(\\d+);(\\d+)m▀`, 'g')

/** Parses the renderer's truecolor half blocks back into pixels (two rows per text line). */
function parseHalfBlocks(text: string, width: number): { width: number; height: number; rgba: Uint8Array } {
  const lines = text.split('\n').filter((l) => l.includes('▀'))
  const height = lines.length * 2
  const rgba = new Uint8Array(width * height * 4)
  lines.forEach((line, row) => {
    const cells = [...line.matchAll(CELL)]
    cells.forEach((m, x) => {
      rgba.set([Number(m[1]), Number(m[2]), Number(m[3]), 255], (row * 2 * width + x) * 4)
      rgba.set([Number(m[4]), Number(m[5]), Number(m[6]), 255], ((row * 2 + 1) * width + x) * 4)
    })
  })
  return { width, height, rgba }
}

runDeviceAdapterContract('TerminalDisplay', async () => {
  let written = ''
  const out = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        written += chunk.toString()
        cb()
      },
    }),
    { columns: 80, rows: 40 },
  )
  const adapter = new TerminalDisplay({ out })
  return {
    adapter,
    inspect: async () => {
      const shown = adapter.current()
      if (!shown) return undefined
      const last = written.lastIndexOf('\x1b[H')
      return parseHalfBlocks(written.slice(last), shown.frame.width)
    },
  }
})

describe('terminal half blocks', () => {
  it('draws the top pixel as foreground and the bottom one as background, blending alpha over black', () => {
    const frame = solidFrame(1, 2, [255, 0, 0, 255])
    frame.rgba.set([0, 0, 200, 128], 4)
    expect(renderHalfBlocks(frame)).toBe('\x1b[38;2;255;0;0m\x1b[48;2;0;0;100m▀\x1b[0m')
    // An odd height pads the last line's bottom half with black.
    expect(renderHalfBlocks(solidFrame(1, 3, [9, 9, 9, 255])).split('\n')[1]).toBe('\x1b[38;2;9;9;9m\x1b[48;2;0;0;0m▀\x1b[0m')
  })
})
