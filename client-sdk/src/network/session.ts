/**
 * Sessions by signed challenge (docs/auth.md): the client proves control of an identity key. Needed to
 * read private streams (pixbooks) and for custodial commands; posting signed receipts needs none.
 */
import { canonicalBytes, formatSignature, type Signer } from '@pixpax/shared'

export interface Session {
  token: string
  expiresAt: string
  identityId: string
}

export async function login(relayUrl: string, identityId: string, signer: Signer, fetchImpl: typeof fetch = fetch): Promise<Session> {
  const base = relayUrl.replace(/\/$/, '')
  const json = async (res: Response) => {
    const body = (await res.json()) as Record<string, unknown>
    if (!res.ok) {
      const error = body.error as { code?: string; message?: string } | undefined
      throw new Error(`${error?.code ?? res.status}: ${error?.message ?? 'request failed'}`)
    }
    return body
  }
  const relay = await json(await fetchImpl(`${base}/v1/relay`))
  const challenge = await json(
    await fetchImpl(`${base}/v1/auth/challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
  )
  const message = canonicalBytes({ purpose: 'pixpax-session', nonce: challenge.nonce, identityId, relay: relay.identityId })
  const session = await json(
    await fetchImpl(`${base}/v1/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        identityId,
        publicKeyId: signer.publicKeyId,
        nonce: challenge.nonce,
        signature: formatSignature(await signer.sign(message)),
      }),
    }),
  )
  return { token: String(session.token), expiresAt: String(session.expiresAt), identityId }
}
