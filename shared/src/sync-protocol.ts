/**
 * The sync protocol (docs/sync-protocol.md): messages over one WebSocket at `GET /v1/sync`, JSON text
 * frames. The relay and the client-sdk validate with these same schemas.
 */
import { z } from 'zod'
import { MAX_NOTE_LENGTH } from './log/checkpoint.js'
import { MAX_PROOF_HASHES } from './log/merkle.js'
import { Sha256RefSchema, UlidSchema } from './schemas.js'

export const SYNC_PROTOCOL_VERSION = 1

const RequestId = z.string().min(1).max(64)
const StreamKey = z.string().min(1).max(300)
/** A Merkle tree hash: 32 bytes in standard padded base64 (44 characters). */
/** A 32-byte tree hash in padded base64 (also tested by the fast accept in receipts-message.ts). */
export const TREE_HASH_PATTERN = /^[A-Za-z0-9+/]{43}=$/
const TreeHash = z.string().regex(TREE_HASH_PATTERN, 'a 32-byte hash in padded base64')
/** Most hashes one delivery proof may carry (≥ what 500 scattered leaves of a 2^53 tree need). */
export const MAX_DELIVERY_PROOF_HASHES = 32_768

/**
 * The relay's newest checkpoint as it travels in the protocol (docs/sync-protocol.md, "Checkpoints"):
 * `note` is the signed note, byte for byte what `GET /v1/log/checkpoint` serves. `consistency` is the
 * RFC 9162 consistency proof from the tree of `from` leaves — the last checkpoint this connection
 * carried, or the size the client announced in `hello` — present whenever the tree grew since then.
 */
export const LogCheckpointMessageSchema = z.strictObject({
  note: z.string().min(1).max(MAX_NOTE_LENGTH),
  consistency: z.strictObject({ from: z.number().int().positive(), hashes: z.array(TreeHash).max(MAX_PROOF_HASHES) }).optional(),
})
export type LogCheckpointMessage = z.infer<typeof LogCheckpointMessageSchema>

export const AckSchema = z.strictObject({
  stream: z.string(),
  seq: z.number().int().positive(),
  /** The receipt's 0-based index in the relay's acceptance log (ARCHITECTURE §3–§4). */
  position: z.number().int().nonnegative(),
  eventId: z.string(),
  hash: z.string(),
  relayKeyId: z.string(),
  signature: z.string(),
})
export type Ack = z.infer<typeof AckSchema>

export const HeadSchema = z.strictObject({ seq: z.number().int().positive(), eventId: UlidSchema, hash: Sha256RefSchema })
export type Head = z.infer<typeof HeadSchema>

/** Client → relay. */
export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    v: z.number().int(),
    token: z.string().max(256).optional(),
    client: z.string().max(100).optional(),
    /** The size of the newest checkpoint the client holds, so the relay proves its next one consistent with it. */
    checkpointSize: z.number().int().nonnegative().optional(),
  }),
  z.strictObject({
    type: z.literal('subscribe'),
    id: RequestId.optional(),
    streams: z
      .array(z.strictObject({ key: StreamKey, after: UlidSchema.nullable().optional() }))
      .min(1)
      .max(1000),
  }),
  z.strictObject({ type: z.literal('unsubscribe'), id: RequestId.optional(), streams: z.array(StreamKey).min(1).max(1000) }),
  z.strictObject({ type: z.literal('push'), id: RequestId, receipts: z.array(z.unknown()).min(1).max(1000) }),
  z.strictObject({ type: z.literal('heads'), id: RequestId, streams: z.array(StreamKey).min(1).max(1000) }),
  z.strictObject({ type: z.literal('ping'), id: RequestId.optional() }),
  /**
   * Live notifications of the session's identity (needs a session): every one after log position
   * `after` first (what the client missed), then each new one as it is projected; `after` null or
   * omitted: only those from now on. Answered with a `notifications` message carrying this `id`.
   */
  z.strictObject({
    type: z.literal('notifications'),
    id: RequestId.optional(),
    after: z.number().int().nonnegative().nullable().optional(),
  }),
])
export type ClientMessage = z.infer<typeof ClientMessageSchema>

/**
 * One delivered receipt: its seq in the stream, its `position` in the relay's acceptance log (what a
 * client needs to place key revocations relative to other streams' receipts; proven by the batch's
 * inclusion proof) and the stored receipt. No ack: the batch's checkpoint and proof are the relay's
 * signed word that these receipts are in its log, at these positions.
 */
export const DeliveredReceiptSchema = z.strictObject({
  seq: z.number().int().positive(),
  position: z.number().int().nonnegative(),
  receipt: z.unknown(),
})
export type DeliveredReceipt = z.infer<typeof DeliveredReceiptSchema>

export const PushResultSchema = z.union([
  z.strictObject({
    ok: z.literal(true),
    eventId: z.string(),
    seq: z.number().int(),
    position: z.number().int().nonnegative(),
    hash: z.string(),
    ack: AckSchema,
  }),
  z.strictObject({
    ok: z.literal(false),
    eventId: z.string().optional(),
    error: z.strictObject({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
  }),
])
export type PushResult = z.infer<typeof PushResultSchema>

/** A notification as `GET /v1/notifications` lists it, with its log position (the live cursor). */
export const LiveNotificationSchema = z.strictObject({
  eventId: z.string(),
  kind: z.string(),
  actor: z.strictObject({ identityId: z.string(), handle: z.string().nullable() }),
  postId: z.string().nullable(),
  commentId: z.string().nullable(),
  detail: z.string().nullable(),
  createdAt: z.string(),
  position: z.number().int().nonnegative(),
})
export type LiveNotification = z.infer<typeof LiveNotificationSchema>

/** Relay → client. */
export const ServerMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('welcome'),
    v: z.number().int(),
    relay: z.strictObject({ identityId: z.string(), publicKeyId: z.string(), publicKey: z.unknown() }),
    session: z.strictObject({ identityId: z.string() }).nullable(),
    limits: z.strictObject({ maxMessageBytes: z.number(), maxReceiptsPerMessage: z.number(), heartbeatMs: z.number() }),
  }),
  /**
   * A batch of one stream, with the checkpoint it is proven against and the multi-leaf inclusion proof of
   * its leaves at their positions in that checkpoint's tree (`multiInclusionProof`, docs/sync-protocol.md).
   */
  z.strictObject({
    type: z.literal('receipts'),
    stream: StreamKey,
    receipts: z.array(DeliveredReceiptSchema).min(1),
    checkpoint: LogCheckpointMessageSchema,
    proof: z.array(TreeHash).max(MAX_DELIVERY_PROOF_HASHES),
  }),
  /** The log grew: its newest checkpoint, proven consistent with the last one this connection carried. */
  z.strictObject({ type: z.literal('checkpoint'), checkpoint: LogCheckpointMessageSchema }),
  z.strictObject({ type: z.literal('caught-up'), stream: StreamKey, head: HeadSchema.nullable() }),
  z.strictObject({ type: z.literal('subscribed'), id: RequestId.optional(), streams: z.array(StreamKey) }),
  z.strictObject({ type: z.literal('unsubscribed'), id: RequestId.optional(), streams: z.array(StreamKey) }),
  z.strictObject({ type: z.literal('push-result'), id: RequestId, results: z.array(PushResultSchema) }),
  z.strictObject({ type: z.literal('heads'), id: RequestId, heads: z.record(z.string(), HeadSchema.nullable()) }),
  z.strictObject({ type: z.literal('pong'), id: RequestId.optional() }),
  /** Notifications of the session's identity, oldest first (with `id`: the answer to the request). */
  z.strictObject({ type: z.literal('notifications'), id: RequestId.optional(), items: z.array(LiveNotificationSchema).max(200) }),
  z.strictObject({
    type: z.literal('error'),
    id: RequestId.optional(),
    stream: StreamKey.optional(),
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
    fatal: z.boolean(),
  }),
])
export type ServerMessage = z.infer<typeof ServerMessageSchema>

/** WebSocket close codes the relay uses (4000–4999 is the application range). */
export const SYNC_CLOSE = {
  PROTOCOL: 4000,
  UNAUTHENTICATED: 4001,
  SLOW_CONSUMER: 4008,
  SHUTDOWN: 1001,
} as const
