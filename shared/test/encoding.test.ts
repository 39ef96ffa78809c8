import { describe, expect, it } from 'vitest'
import {
  base64Decode,
  base64Encode,
  base64UrlDecode,
  base64UrlEncode,
  bytesToHex,
  hexToBytes,
  utf8DecodeStrict,
  utf8Encode,
} from '../src/index.js'

const bytes = (...values: number[]) => new Uint8Array(values)

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  let x = seed | 1
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

describe('base64 (standard, padded, strict)', () => {
  it('encodes the RFC 4648 §10 test vectors', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy'],
    ]
    for (const [plain, encoded] of cases) {
      expect(base64Encode(utf8Encode(plain))).toBe(encoded)
      expect(base64Decode(encoded)).toEqual(utf8Encode(plain))
    }
  })

  it('uses + and / (not - and _)', () => {
    expect(base64Encode(bytes(0xfb, 0xff))).toBe('+/8=')
    expect(base64Decode('+/8=')).toEqual(bytes(0xfb, 0xff))
    expect(base64Decode('-_8=')).toBeUndefined()
  })

  it('rejects non-canonical trailing bits (a second spelling of the same bytes)', () => {
    expect(base64Decode('Zg==')).toEqual(bytes(0x66))
    for (const alias of ['Zh==', 'Zi==', 'Zv==']) expect(base64Decode(alias), alias).toBeUndefined()
    expect(base64Decode('Zm8=')).toEqual(bytes(0x66, 0x6f))
    for (const alias of ['Zm9=', 'Zm+=']) expect(base64Decode(alias), alias).toBeUndefined()
  })

  it('requires padding and rejects misplaced or extra padding', () => {
    for (const text of ['Zg', 'Zg=', 'Zm8', 'Zm9vYg', 'Zm9vYmE', 'Zg===', 'Z===', '====', '=', 'Zg==Zg==', 'Z=g=', 'Zm=v']) {
      expect(base64Decode(text), JSON.stringify(text)).toBeUndefined()
    }
  })

  it('rejects whitespace and characters outside the alphabet', () => {
    for (const text of ['Zm9v ', ' Zm9v', 'Zm 9v', 'Zm9v\n', 'Zm9v\r\nYmFy', 'Zm\t9v', 'Zm9v*', 'Zm9\u00e9', 'Zm9\u{1f600}']) {
      expect(base64Decode(text), JSON.stringify(text)).toBeUndefined()
    }
  })

  it('round-trips every length 0..100 and agrees with Buffer', () => {
    for (let length = 0; length <= 100; length++) {
      const data = pseudoRandomBytes(length, length + 1)
      const encoded = base64Encode(data)
      expect(encoded).toBe(Buffer.from(data).toString('base64'))
      expect(base64Decode(encoded)).toEqual(data)
    }
  })

  it('a 64-byte signature encodes to 88 characters ending in "=="', () => {
    const encoded = base64Encode(pseudoRandomBytes(64, 7))
    expect(encoded).toHaveLength(88)
    expect(encoded.endsWith('==')).toBe(true)
  })
})

describe('base64url (unpadded, strict)', () => {
  it('round-trips every length 0..100, never pads, and agrees with Buffer', () => {
    for (let length = 0; length <= 100; length++) {
      const data = pseudoRandomBytes(length, 1000 + length)
      const encoded = base64UrlEncode(data)
      expect(encoded).toMatch(/^[A-Za-z0-9_-]*$/)
      expect(encoded).toBe(Buffer.from(data).toString('base64url'))
      expect(base64UrlDecode(encoded)).toEqual(data)
    }
  })

  it('uses - and _', () => {
    expect(base64UrlEncode(bytes(0xfb, 0xff))).toBe('-_8')
    expect(base64UrlDecode('-_8')).toEqual(bytes(0xfb, 0xff))
    expect(base64UrlDecode('+/8')).toBeUndefined()
  })

  it('rejects padding, impossible lengths, non-canonical trailing bits and whitespace', () => {
    for (const text of ['Zg==', 'Zg=', 'Z', 'Zm9vY', 'Zh', 'Zm9', 'Zm9v ', 'Zm\n9v']) {
      expect(base64UrlDecode(text), JSON.stringify(text)).toBeUndefined()
    }
    expect(base64UrlDecode('Zg')).toEqual(bytes(0x66))
    expect(base64UrlDecode('')).toEqual(new Uint8Array(0))
  })

  it('a 32-byte JWK coordinate is 43 characters', () => {
    expect(base64UrlEncode(pseudoRandomBytes(32, 3))).toHaveLength(43)
  })
})

describe('hex and UTF-8', () => {
  it('hex is lowercase and round-trips', () => {
    expect(bytesToHex(bytes(0x00, 0xab, 0xff))).toBe('00abff')
    expect(hexToBytes('00abff')).toEqual(bytes(0x00, 0xab, 0xff))
    expect(hexToBytes('00ABFF')).toEqual(bytes(0x00, 0xab, 0xff))
    expect(() => hexToBytes('abc')).toThrow()
    expect(() => hexToBytes('zz')).toThrow()
  })

  it('utf8DecodeStrict refuses malformed UTF-8 instead of inserting U+FFFD', () => {
    expect(utf8DecodeStrict(utf8Encode('é€😀'))).toBe('é€😀')
    for (const bad of [bytes(0xff), bytes(0xc3), bytes(0xed, 0xa0, 0x80), bytes(0xc0, 0xaf), bytes(0xf4, 0x90, 0x80, 0x80)]) {
      expect(() => utf8DecodeStrict(bad), bytesToHex(bad)).toThrow()
    }
  })

  it('utf8DecodeStrict keeps a leading BOM (so the strict parser can refuse it)', () => {
    expect(utf8DecodeStrict(bytes(0xef, 0xbb, 0xbf, 0x31))).toBe('\ufeff1')
  })
})
