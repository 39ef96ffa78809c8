import sharp from 'sharp'
import { validateMedia } from './src/media/index.js'
const g1 = await sharp(Buffer.alloc(64 * 64, 100), { raw: { width: 64, height: 64, channels: 1 } })
  .png()
  .toBuffer()
const g2buf = Buffer.alloc(64 * 64 * 2)
for (let i = 0; i < 64 * 64; i++) {
  g2buf[2 * i] = i % 7
  g2buf[2 * i + 1] = i % 2 ? 255 : 0
}
const g2 = await sharp(g2buf, { raw: { width: 64, height: 64, channels: 2 } })
  .png()
  .toBuffer()
const g16 = await sharp(Buffer.alloc(64 * 64, 100), { raw: { width: 64, height: 64, channels: 1 } })
  .toColourspace('grey16')
  .png()
  .toBuffer()
for (const [n, b] of [
  ['g1', g1],
  ['g2', g2],
  ['g16', g16],
] as const) {
  const m = await sharp(b).metadata()
  console.log(n, m.channels, m.depth, m.space)
  try {
    console.log(n, JSON.stringify(await validateMedia(b)))
  } catch (e: any) {
    console.log(n, e.code, e.message)
  }
}
