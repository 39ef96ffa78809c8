/**
 * Loads the vendored test vectors in `test-vectors/` (repo root). A missing file throws, so a test that
 * depends on vectors fails loudly instead of skipping or passing with nothing to check.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { isAbsolute, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The monorepo root (this file is shared/test/support/vectors.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** Absolute path of a vector file or directory given relative to the repo root; throws if it is missing. */
export function vectorPath(relative: string): string {
  if (isAbsolute(relative) || normalize(relative).startsWith('..')) {
    throw new Error(`vector path must be relative to the repo root: ${relative}`)
  }
  const full = join(REPO_ROOT, relative)
  if (!existsSync(full)) {
    throw new Error(`test vector ${relative} is missing (looked for ${full}); see test-vectors/README.md for where it comes from`)
  }
  return full
}

export function readVectorBytes(relative: string): Uint8Array {
  const full = vectorPath(relative)
  if (!statSync(full).isFile()) throw new Error(`test vector ${relative} is not a file`)
  return new Uint8Array(readFileSync(full))
}

/** The file as UTF-8 text, decoded strictly (a corrupt vector file is an error, not U+FFFD). */
export function readVectorText(relative: string): string {
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(readVectorBytes(relative))
}

export function readVectorJson<T>(relative: string): T {
  return JSON.parse(readVectorText(relative)) as T
}

/** The file names in a vector directory, sorted; throws if the directory is missing or empty. */
export function listVectorDir(relative: string): string[] {
  const full = vectorPath(relative)
  const names = readdirSync(full).sort()
  if (names.length === 0) throw new Error(`test vector directory ${relative} is empty`)
  return names
}

// ---- Project Wycheproof (schema ecdsa_verify_schema_v1 / ecdsa_p1363_verify_schema_v1) ----

export interface WycheproofTest {
  readonly tcId: number
  readonly comment: string
  readonly flags: readonly string[]
  /** Hex, unhashed. */
  readonly msg: string
  /** Hex: DER or P1363 (r‖s) depending on the file. */
  readonly sig: string
  readonly result: 'valid' | 'invalid' | 'acceptable'
}

export interface WycheproofGroup {
  readonly type: string
  readonly publicKey: { readonly curve: string; readonly uncompressed: string }
  readonly sha: string
  readonly tests: readonly WycheproofTest[]
}

export interface WycheproofFile {
  readonly algorithm: string
  readonly numberOfTests: number
  readonly testGroups: readonly WycheproofGroup[]
}
