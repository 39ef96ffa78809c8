/**
 * Serves the web PWA's static build on the relay's own origin (a service worker and the session need
 * one origin): files from WEB_DIST_DIR, and index.html for any other GET that is an app page (the app
 * routes with the History API). The API keeps its error envelope: `/v1/…`, health and metrics paths and
 * missing files (a path whose last segment has a dot) are never answered with the shell.
 *
 * Caching: Vite names everything under `assets/` by content hash, so those are immutable for a year;
 * index.html, sw.js, the manifest and the icons are `no-cache` (revalidated each time) so a new release
 * is seen at once and the service worker can announce it.
 */
import { existsSync } from 'node:fs'
import { join, resolve, sep } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

export const IMMUTABLE = 'public, max-age=31536000, immutable'
export const REVALIDATE = 'no-cache'

/** Answers an app navigation with index.html; returns false when the request is not one. */
export type ShellFallback = (request: FastifyRequest, reply: FastifyReply) => boolean

const NOT_APP = /^\/(v1|healthz|readyz|metrics)(\/|$|\?)/

export function isAppNavigation(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false
  const path = request.url.split('?')[0]!
  if (NOT_APP.test(path)) return false
  const last = path.slice(path.lastIndexOf('/') + 1)
  return !last.includes('.')
}

/**
 * Registers the static build in `dir` (relative to the working directory). Returns the SPA fallback,
 * or undefined when there is no build there (tests, an API-only deployment): the relay then serves the
 * API alone.
 */
export async function registerWebApp(app: FastifyInstance, dir: string): Promise<ShellFallback | undefined> {
  const root = resolve(dir)
  if (!existsSync(join(root, 'index.html'))) {
    app.log.warn({ dir: root }, 'no web build (index.html) there: serving the API only')
    return undefined
  }
  const assets = join(root, 'assets') + sep
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    // One route per file found at start-up: unknown paths fall through to the not-found handler, which
    // answers app pages with the shell and everything else with the error envelope.
    wildcard: false,
    cacheControl: false,
    etag: true,
    lastModified: true,
    setHeaders: (reply, path) => {
      void reply.header('cache-control', path.startsWith(assets) ? IMMUTABLE : REVALIDATE)
    },
  })
  return (request, reply) => {
    if (!isAppNavigation(request)) return false
    void reply.sendFile('index.html')
    return true
  }
}
