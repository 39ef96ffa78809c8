/**
 * `pnpm player:build`: the player as plain JavaScript, `player-agent/dist/player.mjs` (+ `dist/chunks/`,
 * loaded on demand), for small devices and for `pnpm player`. Run through tsx the daemon costs ~100 MB
 * more resident memory than it needs (the loader, its transform of every TypeScript module, their source
 * maps); the bundle runs on plain `node`, and with `--max-semi-space-size=1` V8's young generation stays
 * at a few MB instead of growing to tens for a process that allocates little per second. What else keeps
 * it small (docs/player.md, "Memory"; `pnpm bench player` measures it):
 *
 * - minified whitespace and syntax, no comments: V8 keeps every script's source for lazy compilation,
 *   and one character outside Latin-1 in a comment (a "—") made it keep the whole 2.4 MB as UTF-16;
 *   identifiers keep their names, so stack traces still read;
 * - code splitting: what is imported with `import()` (mqtt.js, only with PLAYER_MQTT and a relay that
 *   offers a bridge) is its own chunk, read from disk when first needed;
 * - browser-only modules a player never runs are replaced by empty stand-ins (a call into one fails
 *   loudly, never silently): Automerge (client-sdk's drafts; a 3 MB WebAssembly module), Dexie
 *   (client-sdk's IndexedDB storage), and zod's translated error messages (`z.locales`; English stays).
 *
 * `--if-stale` (what `pnpm player` runs first) builds only when there is no bundle or a source, a script
 * or the lockfile is newer than it: `pnpm player` always runs the code in the tree, without the build's
 * second or two when nothing changed.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, URL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const repo = join(root, '..')
export const BUNDLE = join(root, 'dist', 'player.mjs')
/**
 * How the bundle is run: `pnpm player` (package.json), the systemd unit and `pnpm bench player` use these
 * (player-agent/test/bundle.test.ts checks that they agree). A young generation of 1 MB a semi-space, and
 * V8's heuristics for size over speed (slower heap growth, smaller inline caches): the player allocates
 * little per second, and these cost no CPU worth measuring (docs/player.md, "Memory").
 */
export const PLAYER_NODE_FLAGS = ['--max-semi-space-size=1', '--optimize-for-size']

/** Which module paths become empty stand-ins, and why (the header above). */
const STANDINS = [
  { name: 'automerge', filter: /^@automerge\// },
  { name: 'dexie', filter: /^dexie$/ },
  { name: 'zod-locales', filter: /^\.\.\/locales\/index\.js$/, importer: /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/ },
]

export async function buildPlayer({ outdir = join(root, 'dist'), metafile = false } = {}) {
  const { build } = await import('esbuild')
  // Chunk names carry a hash: the old ones would pile up.
  rmSync(outdir, { recursive: true, force: true })
  return build({
    entryPoints: { player: join(root, 'src', 'main.ts') },
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    charset: 'ascii',
    metafile,
    // ws's optional native speed-ups: absent, it falls back to JavaScript (as without the bundle).
    external: ['bufferutil', 'utf-8-validate'],
    // CommonJS dependencies (ws, pngjs, mqtt) call require(): give each ES module file one.
    banner: { js: "import { createRequire as __pixpaxRequire } from 'node:module'; const require = __pixpaxRequire(import.meta.url);" },
    plugins: [
      {
        name: 'standins',
        setup(b) {
          for (const s of STANDINS) {
            b.onResolve({ filter: s.filter }, (args) =>
              !s.importer || s.importer.test(args.importer) ? { path: args.path, namespace: `standin-${s.name}` } : undefined,
            )
            b.onLoad({ filter: /.*/, namespace: `standin-${s.name}` }, () => ({ contents: 'module.exports = {}', loader: 'js' }))
          }
        },
      },
    ],
    logLevel: 'error',
  })
}

/** The newest modification time under `dir` (skipping node_modules, dist and tests). */
function newest(dir) {
  let t = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name === 'test' || entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    t = Math.max(t, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return t
}

/** True when there is no bundle, or a source of the player or of a workspace package it bundles, or the lockfile, is newer. */
export function isBundleStale() {
  if (!existsSync(BUNDLE)) return true
  const built = statSync(BUNDLE).mtimeMs
  const inputs = ['player-agent/src', 'player-agent/scripts', 'client-sdk/src', 'shared/src'].map((d) => newest(join(repo, d)))
  return Math.max(...inputs, statSync(join(repo, 'pnpm-lock.yaml')).mtimeMs) > built
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ifStale = process.argv.includes('--if-stale')
  if (!ifStale || isBundleStale()) {
    await buildPlayer()
    // Under `pnpm player` stdout carries the player's protocol lines: say it on stderr there.
    ;(ifStale ? console.error : console.log)(`wrote ${BUNDLE}`)
  }
}
