import type { Readable } from 'node:stream'

export interface Line {
  /** 1-based line number. */
  readonly number: number
  /** The line's bytes without the newline (and without a trailing CR), or undefined if it was too long. */
  readonly bytes: Buffer | undefined
  /** Length in bytes (also when too long and dropped). */
  readonly length: number
}

/**
 * Splits a byte stream into lines without ever holding more than one line (capped at `maxLineBytes`):
 * a longer line is reported with `bytes: undefined` and skipped, so one hostile line cannot exhaust
 * memory. Memory is bounded by the chunk size plus `maxLineBytes`.
 */
export async function* readLines(input: Readable, maxLineBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = []
  let partLength = 0
  let overflow = false
  let number = 0
  const finish = (tail: Buffer): Line => {
    number++
    const length = partLength + tail.length
    if (overflow || length > maxLineBytes) {
      parts = []
      partLength = 0
      overflow = false
      return { number, bytes: undefined, length }
    }
    let bytes = parts.length ? Buffer.concat([...parts, tail]) : tail
    parts = []
    partLength = 0
    if (bytes.length && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, -1)
    return { number, bytes, length }
  }
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(0x0a, start)
      if (nl < 0) break
      yield finish(chunk.subarray(start, nl))
      start = nl + 1
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start)
      partLength += rest.length
      if (partLength > maxLineBytes) overflow = true
      if (overflow) parts = []
      else parts.push(rest)
    }
  }
  if (partLength > 0 || overflow) yield finish(Buffer.alloc(0))
}
