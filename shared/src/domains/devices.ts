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
 * Rules that read other streams (the device identity exists and is of kind `device`; at most
 * MAX_DEVICES_PER_ACCOUNT bound devices) are the relay's, decided in its devices routes before it signs.
 */
import { z } from 'zod'
import { Sha256RefSchema } from '../schemas.js'
import type { IssuerRole } from '../streams.js'
import { text, type DomainModule, type DomainStreamType } from './domain.js'

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

export const DevicePairedPayload = z.strictObject({ name: text(100) })
export const DeviceUnpairedPayload = z.strictObject({})

/** The key of a device's own stream. */
export function deviceStreamKey(identityId: string): string {
  return `device/${identityId}`
}

/** The key of the stream binding a device to an account. */
export function pairingStreamKey(accountId: string, deviceIdentityId: string): string {
  return `pairing/${accountId}/${deviceIdentityId}`
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
    DEVICE_PAIRED: { payload: DevicePairedPayload, issuers: owner },
    DEVICE_UNPAIRED: { payload: DeviceUnpairedPayload, issuers: owner },
  },
}

/** Players: their own status streams and their bindings to accounts. */
export const devicesDomain: DomainModule = { name: 'devices', streamTypes: [device, pairing] }
