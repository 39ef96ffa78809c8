import { describe, expect, it } from 'vitest'
import { UlidSchema, incrementUlid, isUlid, nextUlid, ulid, ulidTime } from '../src/index.js'

const zeros = (n: number) => new Uint8Array(n)
const ones = (n: number) => new Uint8Array(n).fill(0xff)
const MAX_TIME = 2 ** 48 - 1
const T = Date.UTC(2026, 1, 24, 12, 34, 56)

describe('ulid', () => {
  it('encodes time and randomness in Crockford base32', () => {
    expect(ulid(0, zeros)).toBe('0'.repeat(26))
    expect(ulid(0, ones)).toBe('0'.repeat(10) + 'Z'.repeat(16))
    expect(ulid(MAX_TIME, ones)).toBe('7' + 'Z'.repeat(25))
    expect(ulid(1, zeros)).toBe('0000000001' + '0'.repeat(16))
    expect(ulid(32, zeros)).toBe('0000000010' + '0'.repeat(16))
    expect(() => ulid(MAX_TIME + 1)).toThrow(RangeError)
    expect(() => ulid(-1)).toThrow(RangeError)
    expect(() => ulid(1.5)).toThrow(RangeError)
  })

  it('ulidTime reads the timestamp back', () => {
    for (const t of [0, 1, 31, 32, T, MAX_TIME]) expect(ulidTime(ulid(t))).toBe(t)
  })

  it('fresh ULIDs are valid and sort by time', () => {
    const a = ulid(T)
    const b = ulid(T + 1)
    expect(isUlid(a)).toBe(true)
    expect(UlidSchema.safeParse(a).success).toBe(true)
    expect(a < b).toBe(true)
  })
})

describe('nextUlid', () => {
  it('strictly increases when the clock stays the same, even with unlucky randomness', () => {
    let prev = ulid(T, ones) // the largest ULID of this millisecond's random range
    const next = nextUlid(prev, T, zeros)
    expect(next > prev).toBe(true)
    expect(isUlid(next)).toBe(true)
    prev = ulid(T, zeros)
    for (let i = 0; i < 1000; i++) {
      const n = nextUlid(prev, T, (len) => (i % 2 ? zeros(len) : ones(len)))
      expect(n > prev, `${n} > ${prev}`).toBe(true)
      expect(isUlid(n)).toBe(true)
      prev = n
    }
  })

  it('strictly increases when the clock goes backwards, and keeps the predecessor time', () => {
    const prev = ulid(T + 60_000, zeros) // written by a device whose clock is a minute ahead
    const next = nextUlid(prev, T)
    expect(next > prev).toBe(true)
    expect(ulidTime(next)).toBe(T + 60_000)
    expect(next).toBe(incrementUlid(prev))
  })

  it('uses the clock when it has moved past the predecessor', () => {
    const prev = ulid(T, ones)
    const next = nextUlid(prev, T + 1, zeros)
    expect(next).toBe(ulid(T + 1, zeros))
    expect(ulidTime(next)).toBe(T + 1)
  })

  it('without a predecessor returns a fresh ULID', () => {
    expect(nextUlid(null, T, zeros)).toBe(ulid(T, zeros))
    expect(nextUlid(undefined, T, zeros)).toBe(ulid(T, zeros))
  })

  it('a long run with a random, jittering clock is strictly increasing', () => {
    let prev: string | null = null
    let clock = T
    for (let i = 0; i < 5000; i++) {
      clock += ((i * 7919) % 5) - 2 // −2..+2 ms: backwards, equal and forwards
      const n = nextUlid(prev, clock)
      if (prev !== null) expect(n > prev).toBe(true)
      expect(isUlid(n)).toBe(true)
      prev = n
    }
  })
})

describe('incrementUlid', () => {
  it('carries', () => {
    expect(incrementUlid('0'.repeat(26))).toBe('0'.repeat(25) + '1')
    expect(incrementUlid('0'.repeat(25) + 'Z')).toBe('0'.repeat(24) + '10')
    // Crockford skips I, L, O, U.
    expect(incrementUlid('0'.repeat(25) + 'H')).toBe('0'.repeat(25) + 'J')
    expect(incrementUlid('0'.repeat(25) + 'N')).toBe('0'.repeat(25) + 'P')
    expect(incrementUlid('0'.repeat(25) + 'T')).toBe('0'.repeat(25) + 'V')
    // Random part full: carries into the timestamp.
    expect(incrementUlid('0000000001' + 'Z'.repeat(16))).toBe('0000000002' + '0'.repeat(16))
    expect(() => incrementUlid('Z'.repeat(26))).toThrow(RangeError)
    expect(incrementUlid('6' + 'Z'.repeat(25))).toBe('7' + '0'.repeat(25))
  })

  it('throws instead of producing a non-ULID past the largest timestamp', () => {
    const max = '7' + 'Z'.repeat(25)
    expect(() => incrementUlid(max)).toThrow(RangeError)
    // Nothing can follow the largest ULID: nextUlid must say so, not return "8000…".
    expect(() => nextUlid(max, T)).toThrow(RangeError)
  })
})

describe('isUlid', () => {
  it('accepts canonical ULIDs only', () => {
    expect(isUlid('01ARZ3NDEKTSV4RRFFQ69G5FAV')).toBe(true)
    expect(isUlid('7ZZZZZZZZZZZZZZZZZZZZZZZZZ')).toBe(true)
    expect(isUlid('01arz3ndektsv4rrffq69g5fav')).toBe(false) // lowercase
    expect(isUlid('01ARZ3NDEKTSV4RRFFQ69G5FAv')).toBe(false)
    expect(isUlid('81ARZ3NDEKTSV4RRFFQ69G5FAV')).toBe(false) // first char > 7 overflows 48 bits
    expect(isUlid('ZZZZZZZZZZZZZZZZZZZZZZZZZZ')).toBe(false)
    for (const letter of ['I', 'L', 'O', 'U']) expect(isUlid('01ARZ3NDEKTSV4RRFFQ69G5FA' + letter), letter).toBe(false)
    expect(isUlid('01ARZ3NDEKTSV4RRFFQ69G5FA')).toBe(false) // 25
    expect(isUlid('01ARZ3NDEKTSV4RRFFQ69G5FAVV')).toBe(false) // 27
    expect(isUlid(' 01ARZ3NDEKTSV4RRFFQ69G5FAV')).toBe(false)
    expect(isUlid('01ARZ3NDEKTSV4RRFFQ69G5FAV\n')).toBe(false)
    expect(isUlid('')).toBe(false)
    expect(isUlid(null)).toBe(false)
    expect(isUlid(123)).toBe(false)
  })

  it('agrees with UlidSchema', () => {
    for (const s of [
      '01ARZ3NDEKTSV4RRFFQ69G5FAV',
      '01arz3ndektsv4rrffq69g5fav',
      '81ARZ3NDEKTSV4RRFFQ69G5FAV',
      '01ARZ3NDEKTSV4RRFFQ69G5FAV\n',
    ]) {
      expect(UlidSchema.safeParse(s).success, s).toBe(isUlid(s))
    }
  })
})
