/**
 * The PWA's build: Preact through Vite's own JSX transform (no Babel), and vite-plugin-pwa's Workbox
 * service worker precaching the app shell. The editor is a lazily loaded chunk; the shell precache
 * covers every chunk so the whole app works offline after the first visit.
 */
import { createRequire } from 'node:module'
import { defineConfig } from 'vite'
import { VitePWA } from 'vite-plugin-pwa'

// Automerge's wasm, resolved from client-sdk (its dependency): the drafts chunk fetches it by URL.
const sdkRequire = createRequire(new URL('../client-sdk/package.json', import.meta.url))
const AUTOMERGE_WASM = sdkRequire.resolve('@automerge/automerge/automerge.wasm')

export default defineConfig({
  root: import.meta.dirname,
  resolve: {
    alias: [
      // Automerge's default browser entry imports its wasm as an ES module, which needs a wasm plugin and
      // would inline the start-up into whichever chunk imports it. The slim entry leaves loading to
      // us: editor/drafts fetches the wasm (a hashed asset) the first time drafts are used.
      { find: /^@automerge\/automerge$/, replacement: '@automerge/automerge/slim' },
      { find: /^pixpax:automerge-wasm$/, replacement: `${AUTOMERGE_WASM}?url` },
    ],
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    rolldownOptions: {
      treeshake: {
        // client-sdk's modules only declare things (the worker entry excepted). Saying so lets the
        // bundler drop the Automerge drafts code — and its 3.6 MB wasm — from the shell until a screen
        // actually imports drafts.
        moduleSideEffects: (id) => !/[\\/]client-sdk[\\/]src[\\/](?!verify[\\/]verify-worker)/.test(id),
      },
    },
  },
  plugins: [
    VitePWA({
      // The app asks before it reloads into a new version (src/pwa/update-prompt.tsx).
      registerType: 'prompt',
      injectRegister: false,
      includeAssets: ['favicon.svg', 'icon.svg'],
      manifest: {
        name: 'PixPax',
        short_name: 'PixPax',
        description: 'Pixel art you own: draw offline, sync with receipts anyone can verify.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#101018',
        theme_color: '#29adff',
        icons: [
          { src: '/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
          { src: '/icon.svg', sizes: 'any', type: 'image/svg+xml' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,svg,png,wasm,webmanifest}'],
        // Automerge's wasm (≈3.6 MB) is in a lazy chunk but still precached, so drafts open offline.
        maximumFileSizeToCacheInBytes: 8 * 1024 * 1024,
        navigateFallback: '/index.html',
        // The relay's API is never served from the cache: the sync engine has its own offline story.
        navigateFallbackDenylist: [/^\/v1\//, /^\/healthz/, /^\/readyz/, /^\/metrics/],
        cleanupOutdatedCaches: true,
      },
    }),
  ],
})
