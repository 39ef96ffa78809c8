/**
 * In-process relay fixtures for the auth, command, admin and rate-limit tests: buildApp over PGlite (in
 * memory) and a filesystem store in a temp dir, driven with `app.inject()`, plus client-side helpers
 * that sign receipts and challenges the way a client does.
 */
import {
  buildReceipt,
  formatSignature,
  generatePrivateJwk,
  jwkThumbprint,
  publicJwk,
  streamKey,
  type ChainHead,
  type PrivateJwk,
  type Receipt,
  type Signer,
  type StreamRef,
} from '@pixpax/shared'
import { nodeSha256, nodeSigner } from '@pixpax/shared/node'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { sessionChallengeBytes } from '../../src/auth/challenge-message.js'

// The relay: the one in-process starter (src/testing.ts), driven here with `app.inject()`.
export { startTestRelay, type TestRelay } from '../../src/testing.js'

/** A client: an identity with one local key, which tracks the heads of the streams it writes. */
export class TestClient {
  readonly heads = new Map<string, ChainHead>()
  readonly signer: Signer
  constructor(
    readonly app: FastifyInstance,
    readonly identityId: string,
    readonly accountId: string,
    readonly jwk: PrivateJwk = generatePrivateJwk(),
  ) {
    this.signer = nodeSigner(jwk)
  }

  get publicKeyId(): string {
    return this.signer.publicKeyId
  }

  /** Builds, signs and posts one receipt chained to this client's last one in that stream. */
  async append(
    stream: StreamRef,
    type: string,
    payload: Record<string, unknown>,
    signer: Signer = this.signer,
  ): Promise<{ receipt: Receipt; response: LightMyRequestResponse }> {
    const key = streamKey(stream)
    const receipt = await buildReceipt({
      stream,
      type,
      payload,
      identityId: this.identityId,
      signer,
      prev: this.heads.get(key) ?? null,
      sha256: nodeSha256,
    })
    const response = await postReceipts(this.app, [receipt])
    if (response.statusCode === 200) this.heads.set(key, { eventId: receipt.eventId, hash: receipt.hash })
    return { receipt, response }
  }

  /** Like `append`, failing the test unless the relay accepts. */
  async appendOk(stream: StreamRef, type: string, payload: Record<string, unknown>, signer?: Signer): Promise<Receipt> {
    const { receipt, response } = await this.append(stream, type, payload, signer)
    if (response.statusCode !== 200) throw new Error(`relay refused ${type}: ${response.statusCode} ${response.body}`)
    return receipt
  }

  /** IDENTITY_CREATED for this identity, self-signed. */
  async createIdentity(kind = 'person'): Promise<Receipt> {
    return this.appendOk({ type: 'identity', identityId: this.identityId }, 'IDENTITY_CREATED', {
      publicKey: publicJwk(this.jwk),
      accountId: this.accountId,
      kind,
    })
  }

  async addKey(publicKey: PrivateJwk | { kty: 'EC'; crv: 'P-256'; x: string; y: string }, signer?: Signer): Promise<Receipt> {
    return this.appendOk({ type: 'identity', identityId: this.identityId }, 'KEY_ADDED', { publicKey: publicJwk(publicKey) }, signer)
  }

  async revokeKey(publicKeyId: string, signer?: Signer): Promise<Receipt> {
    return this.appendOk({ type: 'identity', identityId: this.identityId }, 'KEY_REVOKED', { publicKeyId }, signer)
  }

  /** A signed challenge body for POST /v1/auth/session (not sent). */
  async signedChallenge(
    signer: Signer = this.signer,
    relay?: string,
  ): Promise<{ identityId: string; publicKeyId: string; nonce: string; signature: string }> {
    const challenge = await this.app.inject({ method: 'POST', url: '/v1/auth/challenge' })
    if (challenge.statusCode !== 200) throw new Error(`challenge: ${challenge.statusCode} ${challenge.body}`)
    const { nonce, relay: relayId } = challenge.json<{ nonce: string; relay: string }>()
    const signature = formatSignature(
      await signer.sign(sessionChallengeBytes({ nonce, identityId: this.identityId, relay: relay ?? relayId })),
    )
    return { identityId: this.identityId, publicKeyId: signer.publicKeyId, nonce, signature }
  }

  /** Opens a session; returns its bearer token. */
  async login(signer: Signer = this.signer): Promise<string> {
    const response = await this.app.inject({ method: 'POST', url: '/v1/auth/session', payload: await this.signedChallenge(signer) })
    if (response.statusCode !== 200) throw new Error(`session: ${response.statusCode} ${response.body}`)
    return response.json<{ token: string }>().token
  }
}

export function postReceipts(app: FastifyInstance, receipts: unknown[]): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/v1/receipts', payload: { receipts } })
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}

/** The `{error}` envelope of a response, asserting its shape loosely. */
export function errorOf(response: LightMyRequestResponse): {
  code: string
  message: string
  requestId: string
  details?: Record<string, unknown>
} {
  return response.json<{ error: { code: string; message: string; requestId: string; details?: Record<string, unknown> } }>().error
}

export const sha256Hex = (c: string): string => `sha256:${c.repeat(64).slice(0, 64)}`

export { jwkThumbprint }
