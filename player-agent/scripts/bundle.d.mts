/** Types of bundle.mjs (a plain script, run by node without a build), for the bench and the tests. */
import type { BuildResult } from 'esbuild'

export declare const BUNDLE: string
export declare const PLAYER_NODE_FLAGS: readonly string[]
export declare function buildPlayer(options?: { outdir?: string; metafile?: boolean }): Promise<BuildResult<{ metafile: true }>>
export declare function isBundleStale(): boolean
