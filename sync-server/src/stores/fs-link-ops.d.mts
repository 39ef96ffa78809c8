export interface LinkOp {
  /** `create`: link a new object (never over an existing name); `replace`: rename over whatever is there. */
  op: 'create' | 'replace'
  path: string
  bytes: Uint8Array
}

export type LinkOutcome = 'created' | 'exists' | 'replaced' | 'conflict'

export interface LinkOpsResult {
  /** One per op applied, in order. */
  outcomes: LinkOutcome[]
  /** The op at index `outcomes.length` threw (errno `code`); the ops after it were not applied. */
  failure?: { code: string | null; message: string }
}

export function applyLinkOps(ops: readonly LinkOp[]): LinkOpsResult
/** A fresh temp name in `dir` (`.tmp-…`: never a valid key segment). */
export function tempPath(dir: string): string
export function unlinkQuietly(path: string): void
