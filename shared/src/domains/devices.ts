/**
 * The devices domain (issue 12): physical players. Two stream types:
 *
 * - `device/{identityId}`: a player's own stream, written only by the device identity. It opens with
 *   DEVICE_REGISTERED (its display capabilities) and then carries DEVICE_STATUS heartbeats (state,
 *   current artwork, cache figures), batched by the player's outbox.
 * - `pairing/{accountId}/{deviceIdentityId}`: the binding of one device to one account, opened by an
 *   owner's DEVICE_PAIRED (signed by the owner — on the relay, with the owner's custodial key) and closed
 *   by DEVICE_UNPAIRED. A device paired again after an unpairing needs a new identity (a factory reset).
 *
 * Rules that read other streams are cross-stream rules over facts (ARCHITECTURE §7), so they hold for
 * every DEVICE_PAIRED whichever way it arrives (the pair route, or a direct `POST /v1/receipts`): the
 * device identity exists and is of kind `device` (`device_unknown`, `not_a_device`), and an account has
 * at most MAX_DEVICES_PER_ACCOUNT devices bound by receipts at once (`device_limit`). A pairing stream
 * is closed by its one DEVICE_UNPAIRED (a second is a STREAM_RULE_VIOLATION).
 */
import { z } from 'zod'
import { PixpaxError } from '../errors.js'
import type { CheckedReceipt } from '../receipt.js'
import { Sha256RefSchema, UlidSchema } from '../schemas.js'
import type { IssuerRole } from '../streams.js'
import { text, type CrossStreamRule, type DomainModule, type DomainStreamType, type FactChange } from './domain.js'
import { IDENTITY_FACTS } from './identity.js'
import { checkViewBatch, DEVICE_VIEW_FACTS, DeviceViewsPayload, deviceViewsRule } from './device-views.js'

/** How many players one account may have paired at once. */
export const MAX_DEVICES_PER_ACCOUNT = 128

const dimension = z.number().int().min(1).max(16_384)

/** What a display can do, declared by its adapter (player-agent DeviceAdapter). */
export const DeviceCapabilitiesSchema = z.strictObject({
  display: text(32),
  maxWidth: dimension,
  maxHeight: dimension,
  animation: z.boolean(),
  brightness: z.boolean(),
  rotation: z.boolean(),
  mirror: z.boolean(),
})
export type DeviceCapabilities = z.infer<typeof DeviceCapabilitiesSchema>

export const DeviceStateSchema = z.enum(['unpaired', 'idle', 'playing'])
export type DeviceState = z.infer<typeof DeviceStateSchema>

export const DeviceRegisteredPayload = z.strictObject({ capabilities: DeviceCapabilitiesSchema })

export const DeviceStatusPayload = z.strictObject({
  state: DeviceStateSchema,
  capabilities: DeviceCapabilitiesSchema,
  /** The artwork on screen (its blob hash), absent when nothing is shown. */
  artwork: Sha256RefSchema.optional(),
  playlistSize: z.number().int().min(0).max(1_000_000),
  cacheBytes: z.number().int().min(0),
  cachedItems: z.number().int().min(0).max(1_000_000),
  /** Whether the player could reach the relay when it wrote this (heartbeats queue while offline). */
  online: z.boolean(),
  uptimeSeconds: z.number().int().min(0),
  /** Artwork whose bytes failed verification since the last report (never shown). */
  refused: z.array(Sha256RefSchema).max(100).optional(),
})
export type DeviceStatus = z.infer<typeof DeviceStatusPayload>

/**
 * A remote command from the owner's account to one player (issue 12 §6). `command` is an open name so a
 * player answers a command it does not know `unsupported` instead of the relay refusing it; the names
 * players know are DEVICE_COMMANDS. `args` are small scalars (`channel`, `postId`, `value`…).
 */
export const DeviceCommandPayload = z.strictObject({
  command: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a command name: a–z, 0–9, -'),
  args: z
    .record(z.string().regex(/^[A-Za-z]{1,32}$/), z.union([z.string().max(200), z.number(), z.boolean()]))
    .refine((a) => Object.keys(a).length <= 8, 'at most 8 args')
    .optional(),
})
export type DeviceCommand = z.infer<typeof DeviceCommandPayload>
/** The commands the player agent knows (brightness, rotation and mirror only where its display declares them). */
export const DEVICE_COMMANDS = [
  'next',
  'back',
  'show',
  'play-channel',
  'play-playlist',
  'pause',
  'resume',
  'brightness',
  'rotation',
  'mirror',
] as const
export const DeviceCommandResultSchema = z.enum(['done', 'unsupported', 'refused'])
/** The device's answer to a command, in its own stream: what it did with the command of that eventId. */
export const DeviceCommandAckPayload = z.strictObject({
  commandEventId: UlidSchema,
  command: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
  result: DeviceCommandResultSchema,
  message: text(500).optional(),
})

export const DevicePairedPayload = z.strictObject({ name: text(100) })
export const DeviceUnpairedPayload = z.strictObject({})

/** The key of a device's own stream. */
export function deviceStreamKey(identityId: string): string {
  return `device/${identityId}`
}

/** The key of the stream carrying the owner's remote commands to one device. */
export function remoteStreamKey(accountId: string, deviceIdentityId: string): string {
  return `remote/${accountId}/${deviceIdentityId}`
}

/** The key of the stream binding a device to an account. */
export function pairingStreamKey(accountId: string, deviceIdentityId: string): string {
  return `pairing/${accountId}/${deviceIdentityId}`
}

/**
 * The devices domain's facts: `devices.bound` — accountId → how many devices are bound to it by
 * pairing streams that are open (DEVICE_PAIRED without DEVICE_UNPAIRED); absent means none.
 */
export const DEVICES_FACTS = { bound: 'devices.bound' } as const

const F = DEVICES_FACTS
const accountOf = (c: CheckedReceipt): string => c.receipt.stream.accountId!
const deviceOf = (c: CheckedReceipt): string => c.receipt.stream.deviceIdentityId!
const boundCount = (facts: { fact(kind: string, key: string): unknown }, accountId: string): number =>
  (facts.fact(F.bound, accountId) as number | undefined) ?? 0
const setBound = (accountId: string, n: number): FactChange => ({ kind: F.bound, key: accountId, value: n > 0 ? n : undefined })

function refuse(rule: string, message: string, details: Record<string, unknown> = {}): never {
  throw new PixpaxError('DOMAIN_RULE_VIOLATION', message, { rule, ...details })
}

const devicePaired: CrossStreamRule = {
  reads: (c) => [
    { kind: IDENTITY_FACTS.kind, key: deviceOf(c) },
    { kind: F.bound, key: accountOf(c) },
  ],
  decide: (c, facts) => {
    const kind = facts.fact(IDENTITY_FACTS.kind, deviceOf(c)) as string | undefined
    if (kind === undefined) refuse('device_unknown', `no identity ${deviceOf(c)} is known`, { deviceIdentityId: deviceOf(c) })
    if (kind !== 'device') {
      refuse('not_a_device', `identity ${deviceOf(c)} is of kind ${kind}, not device`, { deviceIdentityId: deviceOf(c), kind })
    }
    if (boundCount(facts, accountOf(c)) >= MAX_DEVICES_PER_ACCOUNT) {
      refuse('device_limit', `an account has at most ${MAX_DEVICES_PER_ACCOUNT} paired devices`, { limit: MAX_DEVICES_PER_ACCOUNT })
    }
  },
  record: (c, facts) => [setBound(accountOf(c), boundCount(facts, accountOf(c)) + 1)],
}

const deviceUnpaired: CrossStreamRule = {
  reads: (c) => [{ kind: F.bound, key: accountOf(c) }],
  // The stream rule below already refused a second unpairing, so this one closes an open binding.
  record: (c, facts) => [setBound(accountOf(c), boundCount(facts, accountOf(c)) - 1)],
}

const owner: readonly IssuerRole[] = ['owner']

const device: DomainStreamType = {
  type: 'device',
  plural: 'devices',
  idFields: ['identityId'],
  owner: { idField: 'identityId' },
  genesis: 'DEVICE_REGISTERED',
  receipts: {
    DEVICE_REGISTERED: { payload: DeviceRegisteredPayload, issuers: owner },
    DEVICE_STATUS: { payload: DeviceStatusPayload, issuers: owner },
    DEVICE_COMMAND_ACK: { payload: DeviceCommandAckPayload, issuers: owner },
    // Views (device-views.ts): in-batch order for every verifier, against earlier batches by the fact.
    DEVICE_VIEWS: { payload: DeviceViewsPayload, issuers: owner, check: checkViewBatch, crossStream: deviceViewsRule },
  },
}

const remote: DomainStreamType = {
  type: 'remote',
  plural: 'remotes',
  idFields: ['accountId', 'deviceIdentityId'],
  // Opened inside its account by whoever sends the first command (the shared genesis-owner rule); the
  // player obeys only commands whose issuer is an identity of the account it is paired with.
  owner: 'genesis',
  genesis: 'DEVICE_COMMAND',
  opening: 'first',
  receipts: {
    DEVICE_COMMAND: { payload: DeviceCommandPayload, issuers: owner },
  },
}

const pairing: DomainStreamType = {
  type: 'pairing',
  plural: 'pairings',
  idFields: ['accountId', 'deviceIdentityId'],
  // Whoever opens it, inside its own account (the shared genesis-owner rule): an identity of the account.
  owner: 'genesis',
  genesis: 'DEVICE_PAIRED',
  receipts: {
    DEVICE_PAIRED: { payload: DevicePairedPayload, issuers: owner, crossStream: devicePaired },
    DEVICE_UNPAIRED: {
      payload: DeviceUnpairedPayload,
      issuers: owner,
      // The stream holds DEVICE_PAIRED and at most one DEVICE_UNPAIRED: after it, the binding is over.
      check: (_c, stream) => {
        if (stream && stream.count > 1) throw new PixpaxError('STREAM_RULE_VIOLATION', 'this pairing is already closed by DEVICE_UNPAIRED')
      },
      crossStream: deviceUnpaired,
    },
  },
}

/** Players: their own status streams and their bindings to accounts. */
export const devicesDomain: DomainModule = {
  name: 'devices',
  streamTypes: [device, pairing, remote],
  factKinds: [
    { name: F.bound, source: 'log' },
    { name: DEVICE_VIEW_FACTS.lastView, source: 'log' },
  ],
}
