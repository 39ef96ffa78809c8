/**
 * The PixPax error codes (ARCHITECTURE §6). Every layer — the receipt verifier in this package, the
 * relay's HTTP envelope, the WebSocket protocol — uses this one list, so a client can switch on a code
 * without caring where the error came from. `docs/errors.md` documents each one.
 */
export const ERROR_CODES = {
  JSON_INVALID: 'not parseable JSON (the message says where: line and column)',
  DUPLICATE_KEY: 'an object repeats a key (JSON.parse would silently keep the last)',
  SCHEMA_INVALID:
    'a field missing, extra, or of the wrong shape; a float, unsafe integer or lone surrogate; a receipt type the stream does not accept',
  SCHEMA_VERSION_UNSUPPORTED: 'schemaVersion is not 1',
  RECEIPT_TOO_LARGE: 'canonical bytes over 64 KiB (or an input line far over it)',
  HASH_MISMATCH: 'hash is not the SHA-256 of the canonical bytes',
  SIGNATURE_INVALID: 'the signature does not verify under the named key',
  SIGNATURE_NOT_CANONICAL: 'high-S, wrong length, DER instead of r‖s, bad base64 or prefix',
  KEY_UNKNOWN: 'no valid key with that publicKeyId for that identity is known',
  KEY_REVOKED: "the key was revoked before this receipt's position",
  NOT_AUTHORIZED: 'this identity may not issue this type into this stream',
  STREAM_RULE_VIOLATION: "the receipt breaks its stream type's rules (e.g. a stream not opened by its genesis type, a key added twice)",
  CHAIN_BROKEN: 'prevEventId/prevHash do not name the previous receipt (or a first receipt names one)',
  CHAIN_CONFLICT: 'another receipt already follows that predecessor (a fork); carries the current head',
  EVENT_ID_ORDER: "eventId not a ULID or not greater than its predecessor's",
  IDEMPOTENCY_CONFLICT: 'a reused idempotency key with a different receipt body',
  DOMAIN_RULE_VIOLATION:
    'a rule across streams refuses the receipt at its log position; details.rule names it (e.g. drop_already_claimed, card_not_owned, trade_not_open)',
  LOG_INCONSISTENT:
    'the acceptance log does not verify: a checkpoint inconsistent with one seen before, a bad checkpoint signature, a proof or tile that does not verify (client side)',
  // Transport and service codes: used by the relay and the sync protocol, listed here so there is one list.
  BAD_REQUEST: 'the request is malformed in a way no more specific code covers',
  UNSUPPORTED_MEDIA_TYPE: 'the request body is not application/json (or the expected type)',
  PAYLOAD_TOO_LARGE: 'the request body is over the configured limit',
  NOT_FOUND: 'no such route or resource',
  METHOD_NOT_ALLOWED: 'the route exists but not with this method',
  UNAUTHENTICATED: 'a session is required and none (or an expired one) was presented',
  FORBIDDEN: 'the session is valid but may not do this',
  RATE_LIMITED: 'too many requests; retry after the time given in details.retryAfterMs',
  SLOW_CONSUMER: 'a sync client did not read fast enough; the relay disconnected it (resume from the cursor)',
  PROTOCOL_ERROR: 'a sync message that is not valid in this state or not of the protocol (see docs/sync-protocol.md)',
  UNAVAILABLE: 'a dependency (database, object store) is not reachable; retry later',
  INTERNAL: 'an unexpected server error; details are never sent, the requestId finds the log line',
} as const

export type ErrorCode = keyof typeof ERROR_CODES

export const errorCodes = Object.keys(ERROR_CODES) as ErrorCode[]

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value)
}

/** An error with a PixPax code. Thrown by parsers and verifiers; the relay maps it to its envelope. */
export class PixpaxError extends Error {
  override name = 'PixpaxError'
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}
