/**
 * The identity this browser acts as, and its sync engine. Everything goes through client-sdk: the key
 * lives in IndexedDB as a non-extractable CryptoKey (IndexedDbKeyStore), receipts in the Dexie local log,
 * writes through the SyncClient's outbox (so they work offline), sessions by signed challenge (login).
 * Which identity is active is remembered in localStorage (ids only, nothing secret).
 */
import {
  DexieLocalLog,
  IndexedDbKeyStore,
  SyncClient,
  WorkerVerifier,
  login,
  socialCommands,
  type Session,
  type SyncStatus,
} from '@pixpax/client-sdk'
import VerifyWorker from '@pixpax/client-sdk/verify-worker?worker'
import { generateWebCryptoKeyPair, jwkThumbprint, type PrivateJwk, type Receipt, type Signer } from '@pixpax/shared'
import { Store } from '../app/store.js'
import { openBackup, sealBackup, type BackupFile } from './backup.js'
import { moveLegacyAcks } from './legacy-acks.js'

export interface ActiveIdentity {
  identityId: string
  accountId: string
  displayName: string
  /** Set on the device that created the identity until its ACCOUNT_CREATED is queued (openAccount). */
  opensAccount?: boolean
  /** The handle chosen at creation, until its PROFILE_UPDATED (which opens the profile stream) is queued. */
  opensProfile?: string
}

export interface IdentityState {
  /** `loading` until the stored identity (if any) is opened. */
  phase: 'loading' | 'none' | 'ready'
  identity?: ActiveIdentity
  publicKeyId?: string
  sync: SyncStatus
  /** Receipts signed here and not yet confirmed by the relay. */
  pending: number
  session?: Session
  error?: string
}

const ACTIVE_KEY = 'pixpax.identity'
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

export const identityState = new Store<IdentityState>({ phase: 'loading', sync: 'offline', pending: 0 })

/**
 * Bumped (coalesced) whenever what the relay's read routes answer may have changed — the relay's log
 * grew (a newer verified checkpoint: the relay sends one to every connection as its log grows), or one
 * of our receipts was queued, acked or refused. Screens refetch on it: feeds and notifications are live
 * without polling.
 */
export const changes = new Store(0)
let bumpTimer: ReturnType<typeof setTimeout> | undefined
export function announceChange(): void {
  if (bumpTimer) return
  bumpTimer = setTimeout(() => {
    bumpTimer = undefined
    changes.set(changes.value + 1)
  }, 50)
}

const keys = new IndexedDbKeyStore('pixpax-keys')
let client: SyncClient | undefined
let localLog: DexieLocalLog | undefined
let signer: Signer | undefined
/**
 * Signature checks of catch-up run in Web Workers (client-sdk's WorkerVerifier), so a large catch-up
 * does not load the page's main thread; one pool for the app's lifetime.
 */
let workerVerifier: WorkerVerifier | undefined
function verifier(): WorkerVerifier {
  workerVerifier ??= new WorkerVerifier({ createWorker: () => new VerifyWorker() })
  return workerVerifier
}

function update(change: Partial<IdentityState>): void {
  identityState.set({ ...identityState.value, ...change })
}

function randomId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return prefix + Array.from(bytes, (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('')
}

function relayUrl(): string {
  return location.origin
}

export function syncClient(): SyncClient | undefined {
  return client
}

/** The verified receipts of one stream in this device's local log (empty before it is open). */
export async function localReceipts(streamKey: string): Promise<Receipt[]> {
  return localLog ? (await localLog.read(streamKey)).map((r) => r.receipt) : []
}

/** This device's local log and sync client, for the receipts screen's own checks. */
export function localLogAndClient(): { log: DexieLocalLog; client: SyncClient } | undefined {
  return localLog && client ? { log: localLog, client } : undefined
}

/** Tells the UI a receipt was just queued (pending count, live screens). */
export function queued(): void {
  if (client) update({ pending: countPending(client) })
  announceChange()
}

/** A session token for the relay's read routes, opened on demand and reused until it expires. */
export async function token(): Promise<string | undefined> {
  const current = identityState.value.session
  if (current && Date.parse(current.expiresAt) - Date.now() > 60_000) return current.token
  return (await signIn().catch(() => undefined))?.token
}

function countPending(c: SyncClient): number {
  return c.pending().filter((e) => e.state === 'queued' || e.state === 'sent').length
}

async function openClient(identity: ActiveIdentity, key: Signer): Promise<SyncClient> {
  await client?.stop()
  signer = key
  localLog = new DexieLocalLog(`pixpax-log-${identity.identityId}`)
  await moveLegacyAcks(localLog)
  // Whether the sync client's current connection said hello with a session (it asks on every connect).
  let helloHadSession = false
  const c = await SyncClient.open({
    relayUrl: relayUrl(),
    log: localLog,
    identityId: identity.identityId,
    signer: key,
    verifier: verifier(),
    streams: [`account/${identity.accountId}`, `profile/${identity.identityId}`, bookStream(identity)],
    token: async () => {
      const t = await token()
      helloHadSession = t !== undefined
      return t
    },
  })
  const refresh = () => update({ sync: c.status, pending: countPending(c) })
  c.on('status', refresh)
  c.on('acked', (entry) => {
    // The sync client stores the verified ack with the logged receipt itself (LocalLog.setAck), whichever
    // of the push answer and the delivery came first.
    // A new identity's first connection said hello without a session (the relay could not sign it in
    // before it knew the identity), so its private streams (the pixbook) were refused. Now it can:
    // reconnect, and the hello carries a session.
    if (entry.receipt.type === 'IDENTITY_CREATED' && !helloHadSession) void c.stop().then(() => client === c && c.start())
    refresh()
    announceChange()
  })
  c.on('rejected', (entry) => {
    update({
      pending: countPending(c),
      error: `${entry.receipt.type} was refused: ${entry.error?.message ?? entry.error?.code ?? 'unknown'}`,
    })
    announceChange()
  })
  c.on('checkpoint', announceChange)
  c.on('receipt', announceChange) // a verified receipt entered the local log (screens that read it)
  client = c
  update({ phase: 'ready', identity, publicKeyId: key.publicKeyId, sync: c.status, pending: countPending(c) })
  c.start()
  return c
}

/**
 * Queues the identity's ACCOUNT_CREATED (right behind its IDENTITY_CREATED, both offline-capable: the
 * sync client holds a delivery signed by a key it has not applied yet until the identity's arrives).
 * Also run on restore, for an identity whose browser closed between the two.
 */
async function openAccount(c: SyncClient, identity: ActiveIdentity): Promise<void> {
  if (identity.opensAccount) {
    await c.append(`account/${identity.accountId}`, 'ACCOUNT_CREATED', { displayName: identity.displayName })
    delete identity.opensAccount
    localStorage.setItem(ACTIVE_KEY, JSON.stringify(identity))
  }
  if (identity.opensProfile) {
    // The profile stream's first receipt names the handle; every social act goes to that stream after it.
    await socialCommands(c, identity.identityId).updateProfile({ handle: identity.opensProfile, displayName: identity.displayName })
    delete identity.opensProfile
    localStorage.setItem(ACTIVE_KEY, JSON.stringify(identity))
  }
  update({ pending: countPending(c) })
}

/** The identity's pixbook (one per account on this app: `main`). */
export function bookStream(identity: Pick<ActiveIdentity, 'accountId'>): string {
  return `pixbook/${identity.accountId}/main`
}

/** A handle suggested from a display name: its letters and digits, plus four random digits. */
export function suggestHandle(displayName: string): string {
  const base = displayName
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '')
    .slice(0, 24)
  const digits = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => String(b % 10)).join('')
  return `${base || 'pixel'}${digits}`
}

// Back online: connect now rather than at the end of the reconnect backoff (up to 30 s after a long
// offline spell), so the outbox drains at once.
if (typeof window !== 'undefined') {
  window.addEventListener('online', () => {
    const c = client
    if (!c || c.status !== 'offline') return
    void c.stop().then(() => client === c && c.start())
  })
}

/** Opens the identity remembered on this device, if its key is still here. */
export async function restoreIdentity(): Promise<void> {
  const saved = localStorage.getItem(ACTIVE_KEY)
  if (!saved) return update({ phase: 'none' })
  try {
    const identity = JSON.parse(saved) as ActiveIdentity
    const key = await keys.load(identity.identityId)
    if (!key) {
      localStorage.removeItem(ACTIVE_KEY)
      return update({ phase: 'none' })
    }
    const c = await openClient(identity, key)
    if (c.head(`identity/${identity.identityId}`) || c.pending().some((e) => e.receipt.type === 'IDENTITY_CREATED'))
      await openAccount(c, identity)
  } catch (error) {
    update({ phase: 'none', error: `could not open the saved identity: ${(error as Error).message}` })
  }
}

/**
 * Creates a person identity on this device: a new non-extractable key and the self-signed
 * IDENTITY_CREATED and the ACCOUNT_CREATED that makes it its account's owner, signed and queued at once
 * (sent when the relay is reachable).
 */
export async function createIdentity(displayName: string, handle = suggestHandle(displayName)): Promise<ActiveIdentity> {
  const name = displayName.trim()
  if (name.length < 1 || name.length > 64) throw new Error('a display name has 1 to 64 characters')
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(handle)) throw new Error('a handle has 1 to 32 of a–z, 0–9, _ and -')
  const identity: ActiveIdentity = {
    identityId: randomId('u-'),
    accountId: randomId('a-'),
    displayName: name,
    opensAccount: true,
    opensProfile: handle,
  }
  const key = await keys.create(identity.identityId)
  localStorage.setItem(ACTIVE_KEY, JSON.stringify(identity))
  const c = await openClient(identity, key)
  await c.append(`identity/${identity.identityId}`, 'IDENTITY_CREATED', {
    publicKey: key.publicKey,
    accountId: identity.accountId,
    kind: 'person',
    displayName: name,
  })
  await openAccount(c, identity)
  return identity
}

/** Opens a relay session by signing its challenge with this device's key (docs/auth.md). */
export async function signIn(): Promise<Session> {
  const identity = identityState.value.identity
  if (!identity || !signer) throw new Error('no identity on this device')
  const session = await login(relayUrl(), identity.identityId, signer)
  update({ session })
  return session
}

/**
 * Exports an encrypted backup. The device key cannot leave IndexedDB, so this makes a recovery key,
 * adds it to the identity (KEY_ADDED, queued like any write) and seals it in the file.
 */
export async function exportBackup(passphrase: string): Promise<BackupFile> {
  const identity = identityState.value.identity
  if (!identity || !client) throw new Error('no identity on this device')
  const pair = await generateWebCryptoKeyPair(true)
  const privateKey = (await crypto.subtle.exportKey('jwk', pair.privateKey)) as PrivateJwk
  const file = await sealBackup(
    { identityId: identity.identityId, accountId: identity.accountId, displayName: identity.displayName, privateKey },
    passphrase,
  )
  await client.append(`identity/${identity.identityId}`, 'KEY_ADDED', { publicKey: pair.publicKey })
  update({ pending: countPending(client) })
  return file
}

/** Imports a backup: its recovery key becomes this browser's (non-extractable) key for the identity. */
export async function importBackup(file: BackupFile, passphrase: string): Promise<ActiveIdentity> {
  const secret = await openBackup(file, passphrase)
  const identity: ActiveIdentity = {
    identityId: secret.identityId,
    accountId: secret.accountId,
    displayName: secret.displayName ?? secret.identityId,
  }
  if (await keys.load(identity.identityId)) throw new Error('this identity is already on this device')
  const key = await keys.adopt(identity.identityId, secret.privateKey)
  if (key.publicKeyId !== jwkThumbprint(key.publicKey)) throw new Error('the backup key is inconsistent')
  localStorage.setItem(ACTIVE_KEY, JSON.stringify(identity))
  await openClient(identity, key)
  return identity
}

/**
 * A new non-extractable key in this browser under a temporary id, for device linking: the identity it
 * joins is only known once the other browser approved it (identity/link-device.ts).
 */
export async function createLinkKey(): Promise<{ tempId: string; signer: Signer }> {
  const tempId = randomId('link-')
  return { tempId, signer: await keys.create(tempId) }
}

/** Drops a link key that was never approved (the person gave up, or the code expired). */
export async function discardLinkKey(tempId: string): Promise<void> {
  await keys.delete(tempId)
}

/**
 * The link was approved: the key moves to the identity it now belongs to and this browser acts as that
 * identity; the sync client catches up its identity, account and profile streams from the relay.
 */
export async function adoptLinkedIdentity(tempId: string, identity: ActiveIdentity): Promise<void> {
  if (await keys.load(identity.identityId)) throw new Error('this identity is already on this device')
  const key = await keys.rename(tempId, identity.identityId)
  localStorage.setItem(ACTIVE_KEY, JSON.stringify(identity))
  await openClient(identity, key)
}

/** Forgets the identity on this device: its key and local log are deleted (export a backup first). */
export async function forgetIdentity(): Promise<void> {
  const identity = identityState.value.identity
  await client?.stop()
  client = undefined
  localLog = undefined
  signer = undefined
  if (identity) {
    await keys.delete(identity.identityId)
    indexedDB.deleteDatabase(`pixpax-log-${identity.identityId}`)
  }
  localStorage.removeItem(ACTIVE_KEY)
  identityState.set({ phase: 'none', sync: 'offline', pending: 0 })
}
