/**
 * The relay's social read routes (docs/relay.md "Social queries"): feeds, posts, profiles, search,
 * notifications and the moderators' report queue, so an app reads the relay only through the SDK. These
 * are the relay's projections, not signed receipts: what they answer is the relay's word (the receipts
 * behind them are verified by the sync engine). A token is sent when given (blocks apply, one's own
 * reactions show; notifications and the report queue need one). A refusal throws RelayRequestError with
 * the envelope's code and message.
 */

import { RelayRequestError } from '../network/relay-request.js'

export interface RelayCallOptions {
  /** A session token, or a function answering one (undefined: no session). */
  token?: string | (() => Promise<string | undefined>)
  method?: string
  headers?: HeadersInit
  body?: BodyInit
  signal?: AbortSignal
  fetch?: typeof fetch
}

/**
 * One request to the relay at `relayUrl`, any method and body (a media upload's bytes too), answering
 * the Response; a non-2xx answer throws RelayRequestError with the error envelope's code and message.
 * (`relayRequest` is the JSON-only form.)
 */
export async function relayCall(relayUrl: string, path: string, options: RelayCallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers)
  const token = typeof options.token === 'function' ? await options.token() : options.token
  if (token) headers.set('authorization', `Bearer ${token}`)
  const init: RequestInit = { method: options.method ?? 'GET', headers }
  if (options.body !== undefined) init.body = options.body
  if (options.signal) init.signal = options.signal
  const res = await (options.fetch ?? fetch)(`${relayUrl.replace(/\/$/, '')}${path}`, init)
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } }
    throw new RelayRequestError(
      res.status,
      body.error?.code ?? `HTTP_${res.status}`,
      body.error?.message ?? `${res.status} ${res.statusText}`,
      body.error?.details,
    )
  }
  return res
}

/** GETs a relay read route and answers its JSON. */
export async function relayRead<T>(relayUrl: string, path: string, options: Omit<RelayCallOptions, 'method' | 'body'> = {}): Promise<T> {
  return (await (await relayCall(relayUrl, path, options)).json()) as T
}

export interface PageQuery {
  limit?: number
  cursor?: string
}

export interface Paged<T> {
  items: T[]
  next: string | null
}

export type FeedKind = 'recent' | 'following' | 'promoted'
export type ReportStatus = 'open' | 'resolved' | 'all'

/** One moderation report as `GET /v1/moderation/reports` lists it. */
export interface ModerationReport {
  reportId: string
  reporter: string
  /** `{postId}`, `{commentId}` or `{identityId}`. */
  target: Record<string, string>
  reason: string
  note: string | null
  createdAt: string
  resolution: { by: string; action: string; eventId: string } | null
}

const qs = (params: Record<string, string | number | undefined>): string => {
  const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined)
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString()}` : ''
}
const seg = encodeURIComponent

/**
 * The typed read routes. Shapes beyond the report queue are the relay's JSON (docs/relay.md); pass the
 * type the app expects.
 */
export function socialQueries(relayUrl: string, options: Pick<RelayCallOptions, 'token' | 'fetch'> = {}) {
  const get = <T>(path: string, signal?: AbortSignal) => relayRead<T>(relayUrl, path, { ...options, ...(signal ? { signal } : {}) })
  return {
    feed: <T>(kind: FeedKind, page: PageQuery = {}) => get<Paged<T>>(`/v1/feeds/${kind}${qs({ ...page })}`),
    hashtagFeed: <T>(tag: string, page: PageQuery = {}) => get<Paged<T>>(`/v1/feeds/hashtag/${seg(tag)}${qs({ ...page })}`),
    userFeed: <T>(identityId: string, page: PageQuery = {}) => get<Paged<T>>(`/v1/feeds/user/${seg(identityId)}${qs({ ...page })}`),
    post: <T>(postId: string) => get<T>(`/v1/posts/${seg(postId)}`),
    profile: <T>(identityId: string) => get<T>(`/v1/profiles/${seg(identityId)}`),
    profileByHandle: <T>(handle: string) => get<T>(`/v1/profiles/by-handle/${seg(handle)}`),
    search: <T>(type: 'posts' | 'users' | 'hashtags', q: string, page: PageQuery = {}) =>
      get<Paged<T>>(`/v1/search${qs({ type, q, ...page })}`),
    /** Needs a session. */
    notifications: <T>(page: PageQuery = {}) => get<Paged<T>>(`/v1/notifications${qs({ ...page })}`),
    /** Needs a session of one of the relay's MODERATORS (else 403 FORBIDDEN). */
    moderationReports: (status: ReportStatus = 'open', page: PageQuery = {}) =>
      get<Paged<ModerationReport>>(`/v1/moderation/reports${qs({ status, ...page })}`),
  }
}

export type SocialQueries = ReturnType<typeof socialQueries>
