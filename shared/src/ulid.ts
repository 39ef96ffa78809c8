/**
 * ULIDs (https://github.com/ulid/spec): 48-bit millisecond time + 80 random bits in Crockford base32,
 * 26 characters, sortable as strings. Receipt eventIds must increase strictly within a stream, even when
 * the local clock is behind the predecessor's (another device wrote it), so `nextUlid` takes the
 * predecessor and, when needed, increments it instead of trusting the clock.
 */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/
const MAX_TIME = 2 ** 48 - 1

export type RandomBytes = (length: number) => Uint8Array

const defaultRandom: RandomBytes = (length) => crypto.getRandomValues(new Uint8Array(length))

/** True for a canonical (uppercase) ULID. */
export function isUlid(value: unknown): value is string {
  return typeof value === 'string' && ULID_PATTERN.test(value)
}

/** The millisecond timestamp encoded in a ULID. */
export function ulidTime(ulid: string): number {
  let t = 0
  for (let i = 0; i < 10; i++) t = t * 32 + CROCKFORD.indexOf(ulid[i]!)
  return t
}

function encodeTime(time: number): string {
  if (!Number.isSafeInteger(time) || time < 0 || time > MAX_TIME) throw new RangeError(`ULID time out of range: ${time}`)
  let out = ''
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[time % 32]! + out
    time = Math.floor(time / 32)
  }
  return out
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits → 16 base32 characters, 5 bits each.
  let out = ''
  let acc = 0
  let bits = 0
  for (const byte of bytes) {
    acc = (acc << 8) | byte
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += CROCKFORD[(acc >> bits) & 31]!
    }
    acc &= (1 << bits) - 1
  }
  return out
}

/** Increments a ULID by one in its last position (carrying), keeping its length. */
export function incrementUlid(ulid: string): string {
  const chars = ulid.split('')
  for (let i = chars.length - 1; i >= 0; i--) {
    const v = CROCKFORD.indexOf(chars[i]!)
    if (v < 31) {
      chars[i] = CROCKFORD[v + 1]!
      if (i === 0 && v + 1 > 7) break // past 7ZZZ…: the 48-bit time would overflow
      return chars.join('')
    }
    chars[i] = '0'
  }
  throw new RangeError('ULID overflow')
}

/** A fresh ULID for time `now` (milliseconds). */
export function ulid(now: number = Date.now(), random: RandomBytes = defaultRandom): string {
  return encodeTime(now) + encodeRandom(random(10))
}

/**
 * A ULID strictly greater than `after` (when given): a fresh one if the clock has moved past `after`'s
 * time, otherwise `after` incremented, which keeps its timestamp and so never runs ahead of real time
 * by more than the predecessor already did.
 */
export function nextUlid(after: string | null | undefined, now: number = Date.now(), random: RandomBytes = defaultRandom): string {
  const fresh = ulid(now, random)
  if (!after || fresh > after) return fresh
  return incrementUlid(after)
}
