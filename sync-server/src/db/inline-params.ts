/**
 * A statement with its `$n` parameters written in as SQL literals, so that it can share one simple-query
 * round trip with BEGIN or COMMIT (pg-db.ts): node-postgres sends each extended-protocol statement only
 * after the previous one's ReadyForQuery, so `BEGIN` and then a statement are two round trips — on a
 * loaded relay ~2 ms each, several per append batch and log integration.
 *
 * Every value becomes a quoted literal of unknown type, as an untyped text parameter of the extended
 * protocol is, so Postgres infers the same types from the same context (`$1::text[]`, `= $2`). Values
 * are written as node-postgres would send them: strings as they are, numbers and booleans as text,
 * Uint8Arrays as bytea hex, arrays as array literals (elements quoted and escaped), Dates as ISO text,
 * other objects as JSON. Returns undefined for anything else (the caller sends the statement the usual
 * way).
 */

/** `sql` with `$1…$n` replaced by `params` as literals, or undefined if a value cannot be written. */
export function inlineParams(sql: string, params: readonly unknown[] | undefined): string | undefined {
  if (!params || params.length === 0) return sql
  const literals: string[] = []
  for (const p of params) {
    const literal = toLiteral(p)
    if (literal === undefined) return undefined
    literals.push(literal)
  }
  let out = ''
  let from = 0
  const n = sql.length
  for (let i = 0; i < n; i++) {
    const c = sql.charCodeAt(i)
    if (c === 0x27 /* ' */ || c === 0x22 /* " */) {
      // A quoted literal or identifier: a doubled quote inside is the quote itself.
      for (i++; i < n; i++) {
        if (sql.charCodeAt(i) === c) {
          if (sql.charCodeAt(i + 1) === c) i++
          else break
        }
      }
    } else if (c === 0x2d /* - */ && sql.charCodeAt(i + 1) === 0x2d) {
      const end = sql.indexOf('\n', i)
      i = end < 0 ? n : end
    } else if (c === 0x2f /* / */ && sql.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = sql.indexOf('*/', i + 2)
      i = end < 0 ? n : end + 1
    } else if (c === 0x24 /* $ */ && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? '')) {
      let j = i + 1
      while (j < n && sql.charCodeAt(j) >= 0x30 && sql.charCodeAt(j) <= 0x39) j++
      if (j > i + 1) {
        const index = Number(sql.slice(i + 1, j)) - 1
        if (index < 0 || index >= literals.length) return undefined
        out += sql.slice(from, i) + literals[index]
        from = j
        i = j - 1
      } else if (/[A-Za-z_]/.test(sql[j] ?? '') || sql[j] === '$') {
        return undefined // a dollar-quoted string: not worth parsing here
      }
    }
  }
  return out + sql.slice(from)
}

function toLiteral(value: unknown): string | undefined {
  if (value === null || value === undefined) return 'NULL'
  const text = toText(value)
  return text === undefined ? undefined : quote(text)
}

/** The text node-postgres would send for `value`. */
function toText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value)
    case 'object':
      if (value instanceof Uint8Array) return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`
      if (Array.isArray(value)) return arrayText(value)
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString()
      return JSON.stringify(value)
    default:
      return undefined
  }
}

/** A Postgres array literal: `{"a","b\"c",NULL,{"nested"}}`. */
function arrayText(values: readonly unknown[]): string | undefined {
  const parts: string[] = []
  for (const v of values) {
    if (v === null || v === undefined) {
      parts.push('NULL')
      continue
    }
    if (Array.isArray(v)) {
      const inner = arrayText(v)
      if (inner === undefined) return undefined
      parts.push(inner)
      continue
    }
    const text = toText(v)
    if (text === undefined) return undefined
    parts.push(`"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
  }
  return `{${parts.join(',')}}`
}

/**
 * A string literal, right whatever standard_conforming_strings says: E'' with backslashes doubled where
 * there are any. (A NUL cannot be in a Postgres text value; the server refuses it either way.)
 */
function quote(text: string): string {
  const body = text.replaceAll("'", "''")
  return text.includes('\\') ? `E'${body.replaceAll('\\', '\\\\')}'` : `'${body}'`
}
