/**
 * `pnpm player:build`: the player as one JavaScript file, `player-agent/dist/player.mjs`, for small
 * devices. Run through tsx the daemon costs ~30 MB more resident memory than it needs (the loader, its
 * transform of every TypeScript module, their source maps); the bundle runs on plain `node`, and with
 * `--max-semi-space-size=1` V8's young generation stays at a few MB instead of growing to tens for a
 * process that allocates little per second. `pnpm bench player` measures both (docs/player.md).
 */
import { build } from 'esbuild'
import { fileURLToPath, URL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
await build({
  entryPoints: [`${root}src/main.ts`],
  outfile: `${root}dist/player.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // ws's optional native speed-ups: absent, it falls back to JavaScript (as without the bundle).
  external: ['bufferutil', 'utf-8-validate'],
  // CommonJS dependencies (ws, pngjs) call require(): give the ES module one.
  banner: { js: "import { createRequire as __pixpaxRequire } from 'node:module'; const require = __pixpaxRequire(import.meta.url);" },
  // Automerge (client-sdk's drafts, which a player never opens) would load a 3 MB WebAssembly module at
  // start: the bundle gets an empty stand-in, so a call into it would fail loudly, never silently.
  plugins: [
    {
      name: 'no-automerge',
      setup(b) {
        b.onResolve({ filter: /^@automerge\// }, (args) => ({ path: args.path, namespace: 'no-automerge' }))
        b.onLoad({ filter: /.*/, namespace: 'no-automerge' }, () => ({ contents: 'module.exports = {}', loader: 'js' }))
      },
    },
  ],
  logLevel: 'error',
})
console.log(`wrote ${root}dist/player.mjs`)
