/**
 * The conformance suite every DeviceAdapter runs (STYLE.md practice 2): declared capabilities are sane,
 * a frame shown is the frame current, oversize or malformed frames are refused, close is idempotent and
 * final. `inspect` lets each adapter prove the frame really reached its medium (file, page, terminal).
 */
import { DeviceCapabilitiesSchema } from '@pixpax/shared'
import { describe, expect, it } from 'vitest'
import type { DeviceAdapter, Frame } from '../device/device-adapter.js'

export interface DeviceAdapterHarness {
  adapter: DeviceAdapter
  /** The RGBA the medium holds now (decoded from its output), or undefined if it cannot tell. */
  inspect?: () => Promise<{ width: number; height: number; rgba: Uint8Array } | undefined>
  done?: () => Promise<void>
}

export function solidFrame(width: number, height: number, [r, g, b, a]: [number, number, number, number], delayMs = 100): Frame {
  const rgba = new Uint8Array(width * height * 4)
  for (let i = 0; i < width * height; i++) rgba.set([r, g, b, a], i * 4)
  return { width, height, rgba, delayMs }
}

export function runDeviceAdapterContract(name: string, setup: () => Promise<DeviceAdapterHarness>): void {
  describe(`DeviceAdapter contract: ${name}`, () => {
    const withAdapter = async (fn: (h: DeviceAdapterHarness) => Promise<void>) => {
      const harness = await setup()
      await harness.adapter.open()
      try {
        await fn(harness)
      } finally {
        await harness.adapter.close()
        await harness.done?.()
      }
    }

    it('declares valid capabilities', async () => {
      await withAdapter(async ({ adapter }) => {
        expect(DeviceCapabilitiesSchema.safeParse(adapter.capabilities).success).toBe(true)
        expect(adapter.capabilities.maxWidth).toBeGreaterThanOrEqual(8)
        expect(adapter.capabilities.maxHeight).toBeGreaterThanOrEqual(8)
      })
    })

    it('shows a frame: current() is it, and the medium holds its pixels', async () => {
      await withAdapter(async ({ adapter, inspect }) => {
        expect(adapter.current()).toBeUndefined()
        const frame = solidFrame(8, 8, [200, 10, 30, 255])
        await adapter.show({ artwork: 'sha256:' + 'ab'.repeat(32), frameIndex: 0, frame })
        expect(adapter.current()?.artwork).toBe('sha256:' + 'ab'.repeat(32))
        expect(adapter.current()?.frame).toBe(frame)
        const seen = await inspect?.()
        if (seen) {
          expect([seen.width, seen.height]).toEqual([8, 8])
          expect(Array.from(seen.rgba.subarray(0, 4))).toEqual([200, 10, 30, 255])
        }
        const next = solidFrame(8, 4, [0, 255, 0, 255])
        await adapter.show({ artwork: 'sha256:' + 'cd'.repeat(32), frameIndex: 1, frame: next })
        expect(adapter.current()?.frameIndex).toBe(1)
        const after = await inspect?.()
        if (after) expect([after.width, after.height, after.rgba[1]]).toEqual([8, 4, 255])
      })
    })

    it('refuses a frame larger than its capabilities or with a wrong buffer, keeping the current one', async () => {
      await withAdapter(async ({ adapter }) => {
        const { maxWidth, maxHeight } = adapter.capabilities
        const ok = solidFrame(8, 8, [1, 2, 3, 255])
        await adapter.show({ artwork: undefined, frameIndex: 0, frame: ok })
        await expect(
          adapter.show({ artwork: undefined, frameIndex: 0, frame: solidFrame(maxWidth + 1, 1, [0, 0, 0, 255]) }),
        ).rejects.toThrow(RangeError)
        await expect(
          adapter.show({ artwork: undefined, frameIndex: 0, frame: solidFrame(1, maxHeight + 1, [0, 0, 0, 255]) }),
        ).rejects.toThrow(RangeError)
        await expect(
          adapter.show({ artwork: undefined, frameIndex: 0, frame: { width: 4, height: 4, rgba: new Uint8Array(3), delayMs: 0 } }),
        ).rejects.toThrow(RangeError)
        expect(adapter.current()?.frame).toBe(ok)
      })
    })

    it('shows text messages', async () => {
      await withAdapter(async ({ adapter }) => {
        await adapter.message('PAIRING CODE: ABC234')
      })
    })

    it('closes idempotently and refuses to show afterwards', async () => {
      const harness = await setup()
      await harness.adapter.open()
      await harness.adapter.close()
      await harness.adapter.close()
      await expect(harness.adapter.show({ artwork: undefined, frameIndex: 0, frame: solidFrame(8, 8, [0, 0, 0, 255]) })).rejects.toThrow()
      await harness.done?.()
    })
  })
}
