/**
 * Printed codes (docs/economy.md, "Printed codes"): a token the issuer signs, printed as a QR code, that
 * a collector redeems once for a pack. The token is self-contained — its claims say which collection,
 * what it gives and until when — so minting writes nothing to the log; redemption (a PACK_ISSUED with a
 * `code`) and revocation (CODE_REVOKED) are receipts.
 *
 * Token: `base64url(claims bytes) "." base64url(signature)`, both unpadded, where the claims bytes are
 * the RFC 8785 canonical JSON of `CodeClaims` and the signature is the 64-byte r‖s ECDSA P-256/SHA-256
 * signature over them (low-S) by one of the issuer identity's keys. Only base64url characters and one
 * dot: QR byte mode, no escaping in a URL.
 */
import { z } from 'zod'
import { canonicalBytes } from '../canonical-json.js'
import { nobleSha256 } from '../crypto/noble.js'
import { normalizeLowS } from '../crypto/p256.js'
import type { Sha256, SignatureVerifier, Signer } from '../crypto/types.js'
import type { PublicJwk } from '../crypto/jwk.js'
import { base64UrlDecode, base64UrlEncode, bytesToHex, utf8DecodeStrict, utf8Encode } from '../encoding.js'
import { CreatedAtSchema, IdSchema, IssuerSchema } from '../schemas.js'
import { parseStrictJson } from '../strict-json.js'
import { inSupply, rankCatalog, type CatalogCard, type IssuedCount } from './derive-pack.js'

export const CODE_TOKEN_TYPE = 'pixpax-code/1'
export const CODE_MAX_CARDS = 50
export const CODE_DEFAULT_TTL_MS = 14 * 24 * 3600 * 1000
/** Ten years of 365.25 days: the longest a code may be valid. */
export const CODE_MAX_TTL_MS = Math.round(10 * 365.25 * 24 * 3600 * 1000)

const CODE_PACK_CONTEXT = 'pixpax-code-pack/1\n'
const CODE_TICKET_CONTEXT = 'pixpax-code-ticket/1\n'

export const CodeClaimsSchema = z
  .strictObject({
    type: z.literal(CODE_TOKEN_TYPE),
    codeId: IdSchema,
    /** Who signed the token; must be the collection's owner and the issuer of the redemption. */
    issuer: IssuerSchema,
    collectionId: IdSchema,
    kind: z.enum(['pack', 'fixed-card']),
    /** `pack`: how many cards (1–50) drawn from the collection's cards up to `version`. */
    cards: z.number().int().min(1).max(CODE_MAX_CARDS).optional(),
    version: z.number().int().min(1).max(1_000_000).optional(),
    /** `fixed-card`: the one card it gives. */
    cardId: IdSchema.optional(),
    issuedAt: CreatedAtSchema,
    expiresAt: CreatedAtSchema,
  })
  .superRefine((c, ctx) => {
    if (c.kind === 'pack' && (c.cards === undefined || c.version === undefined || c.cardId !== undefined))
      ctx.addIssue({ code: 'custom', message: 'a pack code has cards and version, no cardId', path: ['kind'] })
    if (c.kind === 'fixed-card' && (c.cardId === undefined || c.cards !== undefined || c.version !== undefined))
      ctx.addIssue({ code: 'custom', message: 'a fixed-card code has cardId only', path: ['kind'] })
    const ttl = Date.parse(c.expiresAt) - Date.parse(c.issuedAt)
    if (!(ttl > 0 && ttl <= CODE_MAX_TTL_MS))
      ctx.addIssue({ code: 'custom', message: 'expiresAt must be after issuedAt and at most 10 years later', path: ['expiresAt'] })
  })
export type CodeClaims = z.infer<typeof CodeClaimsSchema>

export interface ParsedCodeToken {
  readonly claims: CodeClaims
  /** The canonical claims bytes the signature covers. */
  readonly signed: Uint8Array
  readonly signature: Uint8Array
}

const TOKEN = /^[A-Za-z0-9_-]{2,4000}\.[A-Za-z0-9_-]{86}$/

/**
 * The claims of a token, or undefined for anything that is not a well-formed code token: two base64url
 * parts, claims that are strict JSON in canonical form (so one set of claims has one token text up to
 * the signature) matching the schema, a 64-byte signature. Does not check the signature.
 */
export function parseCodeToken(token: string): ParsedCodeToken | undefined {
  if (!TOKEN.test(token)) return undefined
  const [body, sig] = token.split('.') as [string, string]
  const signed = base64UrlDecode(body)
  const signature = base64UrlDecode(sig)
  if (!signed || !signature || signature.length !== 64) return undefined
  let json: unknown
  try {
    json = parseStrictJson(utf8DecodeStrict(signed))
  } catch {
    return undefined
  }
  const claims = CodeClaimsSchema.safeParse(json)
  if (!claims.success) return undefined
  if (base64UrlEncode(canonicalBytes(claims.data)) !== body) return undefined
  return { claims: claims.data, signed, signature }
}

/** Signs `claims` into a token (low-S, as every PixPax signature). */
export async function signCodeToken(claims: CodeClaims, signer: Signer): Promise<string> {
  const parsed = CodeClaimsSchema.parse(claims)
  if (parsed.issuer.publicKeyId !== signer.publicKeyId) throw new RangeError('claims.issuer.publicKeyId is not the signer key')
  const signed = canonicalBytes(parsed)
  const signature = normalizeLowS(await signer.sign(signed))
  return `${base64UrlEncode(signed)}.${base64UrlEncode(signature)}`
}

/** Whether the token's signature verifies under `publicKey` (the key its claims name). */
export async function verifyCodeSignature(token: ParsedCodeToken, publicKey: PublicJwk, verifier: SignatureVerifier): Promise<boolean> {
  return verifier.verify(publicKey, token.signed, token.signature)
}

/**
 * The id of the pack a code gives: `pc` + 40 hex digits of SHA-256(context ‖ collectionId ‖ "\n" ‖
 * codeId). One code, one pack id: redeeming it twice — into any book, on any relay replica — is issuing
 * one pack id twice, which the economy's pack rule refuses.
 */
export function codePackId(collectionId: string, codeId: string, sha256: Sha256 = nobleSha256): string {
  return 'pc' + bytesToHex(sha256(utf8Encode(`${CODE_PACK_CONTEXT}${collectionId}\n${codeId}`))).slice(0, 40)
}

/**
 * A pack code's ticket: hex SHA-256(context ‖ the token text). The token carries the issuer's signature,
 * which nobody but the issuer can compute, so the cards are fixed at minting and unknown to whoever has
 * not seen the token.
 */
export function codeTicket(token: string, sha256: Sha256 = nobleSha256): string {
  return bytesToHex(sha256(utf8Encode(CODE_TICKET_CONTEXT + token)))
}

/**
 * The cards of a pack code: the catalog ranked by the ticket (as a drop pack), walked round and round
 * taking each card that is still in supply (counting the ones this pack already took) until `count` are
 * taken or nothing is left. So a pack repeats a card only once it holds every card still in supply.
 */
export function deriveCodeCards(
  ticket: string,
  catalog: readonly CatalogCard[],
  issued: IssuedCount,
  count: number,
  sha256: Sha256 = nobleSha256,
): string[] {
  const ranked = rankCatalog(ticket, catalog, sha256)
  const taken: string[] = []
  const inPack = new Map<string, number>()
  const counted: IssuedCount = (cardId) => issued(cardId) + (inPack.get(cardId) ?? 0)
  while (taken.length < count) {
    let progress = false
    for (const card of ranked) {
      if (taken.length === count) break
      if (!inSupply(card, counted)) continue
      taken.push(card.cardId)
      inPack.set(card.cardId, (inPack.get(card.cardId) ?? 0) + 1)
      progress = true
    }
    if (!progress) break
  }
  return taken
}
