/**
 * The relay's read routes (feeds, posts, profiles, search, notifications), same origin as the app,
 * through client-sdk (`relayCall`, `relayRead`, `socialQueries`): the web talks to the relay only
 * through the SDK. A session token is sent when this device has an identity (blocks apply, own
 * reactions show); errors come back as the relay's envelope and are thrown with its message.
 */
import { relayCall, relayRead, RelayRequestError, socialQueries, type RelayCallOptions } from '@pixpax/client-sdk'
import { useEffect, useState } from 'preact/hooks'
import { useStore } from '../app/store.js'
import { changes, identityState, token } from '../identity/identity-session.js'

/** A relay refusal (the SDK's error: status, envelope code and message). */
export { RelayRequestError as RelayError }

/** The session token when this device has an identity (undefined otherwise, or when none can be had). */
const sessionToken = (): Promise<string | undefined> => (identityState.value.phase === 'ready' ? token() : Promise.resolve(undefined))

export function relayFetch(path: string, init: Omit<RelayCallOptions, 'token' | 'fetch'> & { session?: boolean } = {}): Promise<Response> {
  const { session, ...rest } = init
  return relayCall(location.origin, path, { ...rest, ...(session !== false ? { token: sessionToken } : {}) })
}

export function relayJson<T>(path: string): Promise<T> {
  return relayRead<T>(location.origin, path, { token: sessionToken })
}

/** The typed read routes as this device's session reads them. */
export const queries = () => socialQueries(location.origin, { token: sessionToken })

export interface Query<T> {
  data?: T
  error?: string
  loading: boolean
}

/**
 * GETs `path` (none while undefined) and again whenever the relay's log or our outbox changed
 * (`changes`), keeping the last answer on screen meanwhile; offline, the error says so.
 */
export function useRelayQuery<T>(path: string | undefined): Query<T> {
  const tick = useStore(changes)
  const [state, setState] = useState<Query<T> & { path?: string }>({ loading: true })
  useEffect(() => {
    if (!path) return
    let cancelled = false
    setState((s) => ({ ...(s.path === path ? s : {}), path, loading: true }))
    relayJson<T>(path).then(
      (data) => !cancelled && setState({ path, data, loading: false }),
      (error: unknown) =>
        !cancelled &&
        setState((s) => ({
          ...(s.path === path ? s : {}),
          path,
          loading: false,
          error: navigator.onLine ? (error as Error).message : 'You are offline: showing what this device has.',
        })),
    )
    return () => {
      cancelled = true
    }
  }, [path, tick])
  return state.path === path ? state : { loading: true }
}

export interface MediaJson {
  hash: string
  mime: string
  width: number
  height: number
  frames: number
  url: string
}

export interface PostJson {
  postId: string
  author: { identityId: string; handle: string | null; displayName: string | null }
  title: string
  description: string | null
  hashtags: string[]
  media: MediaJson
  createdAt: string
  approved: boolean
  reactionCount: number
  commentCount: number
}

export interface CommentJson {
  commentId: string
  author: { identityId: string; handle: string | null }
  body: string | null
  deleted: boolean
  createdAt: string
  replies: CommentJson[]
}

export interface PostDetailJson extends PostJson {
  reactions: Array<{ emoji: string; count: number }>
  myReactions: string[]
  comments: CommentJson[]
}

export interface ProfileJson {
  identityId: string
  handle: string
  displayName: string | null
  bio: string | null
  followers: number
  following: number
  posts: number
}

export interface Page<T> {
  items: T[]
  next: string | null
}
