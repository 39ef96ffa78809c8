/**
 * Fetches art blobs into the cache: `GET /v1/media/sha256/:hex` (posted media), falling back to
 * `/v1/blobs/sha256/:hex` when the relay has no media route for it. The bytes stream through the cache's
 * hashing writer, so nothing unverified is ever stored, let alone shown.
 */
import type { BlobCache, DownloadProgress } from './blob-cache.js'
import { hexOf } from './blob-cache.js'

export class DownloadError extends Error {
  override name = 'DownloadError'
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}

export interface DownloaderOptions {
  relayUrl: string
  token: () => Promise<string | undefined>
  fetch?: typeof fetch
}

export class Downloader {
  private readonly fetchImpl: typeof fetch
  constructor(private readonly options: DownloaderOptions) {
    this.fetchImpl = options.fetch ?? fetch
  }

  async download(cache: BlobCache, hash: string, progress?: DownloadProgress): Promise<number> {
    const hex = hexOf(hash)
    const base = this.options.relayUrl.replace(/\/$/, '')
    const token = await this.options.token()
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
    let res = await this.fetchImpl(`${base}/v1/media/sha256/${hex}`, { headers })
    if (res.status === 404) {
      await res.body?.cancel()
      res = await this.fetchImpl(`${base}/v1/blobs/sha256/${hex}`, { headers })
    }
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => '')
      throw new DownloadError(`GET ${hash}: ${res.status} ${text.slice(0, 200)}`, res.status)
    }
    const length = Number(res.headers.get('content-length'))
    const body = res.body as unknown as AsyncIterable<Uint8Array>
    return cache.putStream(hash, body, Number.isFinite(length) && length > 0 ? length : undefined, progress)
  }
}
