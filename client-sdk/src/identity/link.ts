/**
 * Device linking (docs/web.md, "Linking a second browser"): a second browser makes its own key and hands
 * the public half to the identity's signed-in browser through a short code on the relay. The first
 * browser compares the key's fingerprint with the one the second shows and approves by signing
 * KEY_ADDED (addDeviceKey); the second then learns which identity it joined. The relay carries the key
 * but cannot add it, and a key it swapped shows a different fingerprint.
 */
import { base64UrlDecode, jwkThumbprint, type PublicJwk, type Receipt } from '@pixpax/shared'
import { relayRequest } from '../network/relay-request.js'
import type { SyncClient } from '../sync/sync-client.js'
import { addDeviceKey } from './identity.js'

export interface LinkCode {
  code: string
  expiresAt: string
}

export interface ClaimedLink {
  linkId: string
  publicKeyId: string
  expiresAt: string
}

export type LinkState = 'waiting' | 'claimed' | 'approved' | 'expired'

export interface LinkStatus {
  linkId: string
  state: LinkState
  expiresAt: string
  publicKeyId: string | null
  /** Set once approved: the identity the key now belongs to. */
  identityId?: string
  accountId?: string
  displayName?: string | null
}

export interface PendingLink {
  linkId: string
  state: LinkState
  expiresAt: string
  claimedAt: string
  publicKeyId: string
  publicKey: PublicJwk
}

/** The signed-in browser asks for a code to show (`POST /v1/identity-links`). */
export function requestLinkCode(relayUrl: string, token: string, fetchImpl?: typeof fetch): Promise<LinkCode> {
  return relayRequest(relayUrl, '/v1/identity-links', { method: 'POST', token, body: {}, fetchImpl })
}

/** The new browser submits its public key with the code it was shown (no session: it has no identity yet). */
export function claimLinkCode(relayUrl: string, code: string, publicKey: PublicJwk, fetchImpl?: typeof fetch): Promise<ClaimedLink> {
  return relayRequest(relayUrl, '/v1/identity-links/claim', { method: 'POST', body: { code: code.trim(), publicKey }, fetchImpl })
}

/** The new browser polls its claim until it is approved (or expires). */
export function linkStatus(relayUrl: string, linkId: string, fetchImpl?: typeof fetch): Promise<LinkStatus> {
  return relayRequest(relayUrl, `/v1/identity-links/${encodeURIComponent(linkId)}`, { fetchImpl })
}

/** The signed-in browser's claimed links (the keys waiting for approval, and those already added). */
export async function pendingLinks(relayUrl: string, token: string, fetchImpl?: typeof fetch): Promise<PendingLink[]> {
  return (await relayRequest<{ links: PendingLink[] }>(relayUrl, '/v1/identity-links', { token, fetchImpl })).links
}

/**
 * A short fingerprint of a key, shown on both screens to compare: the first 48 bits of its JWK
 * thumbprint as three groups of hex. A relay that wanted a key of its own to show the same fingerprint
 * would need ~2^47 key generations within the code's 10 minutes.
 */
export function keyFingerprint(publicKeyId: string): string {
  const bytes = base64UrlDecode(publicKeyId)?.subarray(0, 6)
  if (!bytes || bytes.length < 6) throw new Error('not a key id (a base64url JWK thumbprint)')
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join('')
  return `${hex.slice(0, 4)} ${hex.slice(4, 8)} ${hex.slice(8, 12)}`
}

/**
 * Approves a claimed link: adds its key to the identity (KEY_ADDED through the outbox). The key must
 * hash to the thumbprint the list gave (so the fingerprint the person compared is the key added).
 */
export function approveLink(
  client: SyncClient,
  identityId: string,
  link: Pick<PendingLink, 'publicKey' | 'publicKeyId'>,
): Promise<Receipt> {
  if (jwkThumbprint(link.publicKey) !== link.publicKeyId) throw new Error('the submitted key does not match its fingerprint')
  return addDeviceKey(client, identityId, { publicKey: link.publicKey })
}
