/**
 * The message a client signs to open a session (docs/auth.md): the RFC 8785 bytes of
 * `{"identityId":…,"nonce":…,"purpose":"pixpax-session","relay":…}`, signed exactly like a receipt
 * (ECDSA P-256 / SHA-256, 64-byte low-S r‖s, "ecdsa-p256:" + base64). The purpose and the relay's
 * identity bind the signature to this use and this relay, so it cannot be replayed as anything else.
 */
import { canonicalBytes } from '@pixpax/shared'

export const SESSION_PURPOSE = 'pixpax-session'

export interface SessionChallenge {
  /** The nonce from POST /v1/auth/challenge. */
  nonce: string
  /** The identity the session is for. */
  identityId: string
  /** The relay's identityId, as published at GET /v1/relay. */
  relay: string
}

/** The exact bytes to sign for POST /v1/auth/session. */
export function sessionChallengeBytes(challenge: SessionChallenge): Uint8Array {
  return canonicalBytes({ purpose: SESSION_PURPOSE, nonce: challenge.nonce, identityId: challenge.identityId, relay: challenge.relay })
}
