/**
 * Device linking in the browser (docs/web.md, "Linking a second browser"), through client-sdk's link
 * functions. The new browser makes its own non-extractable key, submits its public half with the code the
 * signed-in browser shows, shows the key's fingerprint, and waits (polling the relay) until the other
 * browser approved it by signing KEY_ADDED; then it becomes that identity. The signed-in browser lists
 * the submitted keys with their fingerprints and approves one.
 */
import {
  approveLink,
  claimLinkCode,
  keyFingerprint,
  linkStatus,
  pendingLinks,
  requestLinkCode,
  type LinkCode,
  type PendingLink,
} from '@pixpax/client-sdk'
import { adoptLinkedIdentity, createLinkKey, discardLinkKey, identityState, queued, syncClient, token } from './identity-session.js'

/** How often the waiting browser asks whether it was approved. */
export const LINK_POLL_MS = 1500

export { keyFingerprint }

export interface LinkAttempt {
  fingerprint: string
  /** Resolves with the identity's display name once approved; rejects when the link expired or failed. */
  approved: Promise<string>
  cancel(): void
}

/** A claim waiting for approval, remembered (ids only) so a reload or a closed tab resumes the wait. */
interface WaitingLink {
  tempId: string
  linkId: string
  publicKeyId: string
}
const WAITING_KEY = 'pixpax.link'

/** The new browser: claims `code` with a fresh key of its own. */
export async function linkThisBrowser(code: string): Promise<LinkAttempt> {
  const { tempId, signer } = await createLinkKey()
  let claim
  try {
    claim = await claimLinkCode(location.origin, code, signer.publicKey)
  } catch (error) {
    await discardLinkKey(tempId)
    throw error
  }
  const waiting: WaitingLink = { tempId, linkId: claim.linkId, publicKeyId: signer.publicKeyId }
  localStorage.setItem(WAITING_KEY, JSON.stringify(waiting))
  return waitForApproval(waiting)
}

/** A claim this browser made before a reload, still waiting; undefined when there is none. */
export function resumeLink(): LinkAttempt | undefined {
  const saved = localStorage.getItem(WAITING_KEY)
  if (!saved) return undefined
  try {
    return waitForApproval(JSON.parse(saved) as WaitingLink)
  } catch {
    localStorage.removeItem(WAITING_KEY)
    return undefined
  }
}

function waitForApproval(link: WaitingLink): LinkAttempt {
  let cancelled = false
  const approved = (async () => {
    for (;;) {
      if (cancelled) throw new Error('linking cancelled')
      const status = await linkStatus(location.origin, link.linkId).catch(() => undefined) // offline: try again
      if (status?.state === 'approved' && status.identityId && status.accountId) {
        const displayName = status.displayName ?? status.identityId
        await adoptLinkedIdentity(link.tempId, { identityId: status.identityId, accountId: status.accountId, displayName })
        localStorage.removeItem(WAITING_KEY)
        return displayName
      }
      if (status?.state === 'expired') throw new Error('the link code expired before it was approved; ask for a new one')
      await new Promise((resolve) => setTimeout(resolve, LINK_POLL_MS))
    }
  })().catch(async (error: unknown) => {
    // Leaving the page only pauses the wait (it resumes on the next visit); anything else ends the link.
    if (!cancelled) {
      localStorage.removeItem(WAITING_KEY)
      await discardLinkKey(link.tempId)
    }
    throw error
  })
  return {
    fingerprint: keyFingerprint(link.publicKeyId),
    approved,
    cancel: () => {
      cancelled = true
    },
  }
}

async function session(): Promise<string> {
  const t = await token()
  if (!t) throw new Error('sign in to the relay first (you may be offline)')
  return t
}

/** The signed-in browser: a code to show the other one. */
export async function newLinkCode(): Promise<LinkCode> {
  return requestLinkCode(location.origin, await session())
}

/** The keys submitted with this identity's codes. */
export async function submittedKeys(): Promise<PendingLink[]> {
  return pendingLinks(location.origin, await session())
}

/** Approves a submitted key: KEY_ADDED signed here, through the outbox. */
export async function approve(link: PendingLink): Promise<void> {
  const c = syncClient()
  const identityId = identityState.value.identity?.identityId
  if (!c || !identityId) throw new Error('no identity on this device')
  await approveLink(c, identityId, link)
  queued()
}
