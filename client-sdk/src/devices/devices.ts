/**
 * The owner's side of players (docs/player.md): pair by the code a player shows, list, rename and unpair
 * (relay routes, with the owner's session), and remote commands — DEVICE_COMMAND receipts signed on this
 * device and queued through the sync client's outbox — whose answers (DEVICE_COMMAND_ACK) arrive in the
 * device's own stream, which the sync client follows and verifies like every stream.
 */
import { deviceStreamKey, remoteStreamKey, type DeviceCapabilities, type Receipt } from '@pixpax/shared'
import { relayRequest } from '../network/relay-request.js'
import type { SyncClient } from '../sync/sync-client.js'

export interface PairedDevice {
  deviceIdentityId: string
  accountId: string
  ownerIdentityId: string
  name: string
  pairedAt: string
  stream: string
  binding: { receipt: Receipt; ack: unknown } | null
}

export interface DeviceListing {
  deviceIdentityId: string
  name: string
  pairedAt: string
  stream: string
  online: boolean
  lastSeenAt: string | null
  state: string | null
  artwork: string | null
  capabilities: DeviceCapabilities | null
  status: Record<string, unknown> | null
}

const devicePath = (id: string) => `/v1/devices/${encodeURIComponent(id)}`

/** Pairs the player showing `code` with the session's account (`POST /v1/devices/pair`). */
export function pairDevice(relayUrl: string, token: string, code: string, name: string, fetchImpl?: typeof fetch): Promise<PairedDevice> {
  return relayRequest(relayUrl, '/v1/devices/pair', { method: 'POST', token, body: { code: code.trim(), name }, fetchImpl })
}

/** The account's players, online or offline, with current artwork and capabilities (`GET /v1/devices`). */
export async function listDevices(relayUrl: string, token: string, fetchImpl?: typeof fetch): Promise<DeviceListing[]> {
  return (await relayRequest<{ devices: DeviceListing[] }>(relayUrl, '/v1/devices', { token, fetchImpl })).devices
}

export function renameDevice(relayUrl: string, token: string, deviceIdentityId: string, name: string, fetchImpl?: typeof fetch) {
  return relayRequest<{ deviceIdentityId: string; name: string }>(relayUrl, devicePath(deviceIdentityId), {
    method: 'PATCH',
    token,
    body: { name },
    fetchImpl,
  })
}

/** Unpairs: the player's access to the account ends at once (`DELETE /v1/devices/:id`). */
export function unpairDevice(relayUrl: string, token: string, deviceIdentityId: string, fetchImpl?: typeof fetch) {
  return relayRequest<{ deviceIdentityId: string; unpaired: true }>(relayUrl, devicePath(deviceIdentityId), {
    method: 'DELETE',
    token,
    fetchImpl,
  })
}

export type CommandArgs = Record<string, string | number | boolean>

/**
 * Which remote controls a player's declared capabilities allow: next/back/show/play-* always, pause and
 * resume always (every player can hold a frame), brightness, rotation and mirror only when declared.
 */
export function allowedCommands(capabilities: DeviceCapabilities | null): string[] {
  const always = ['next', 'back', 'pause', 'resume', 'show', 'play-playlist', 'play-channel']
  if (!capabilities) return always
  return [
    ...always,
    ...(capabilities.brightness ? ['brightness'] : []),
    ...(capabilities.rotation ? ['rotation'] : []),
    ...(capabilities.mirror ? ['mirror'] : []),
  ]
}

/**
 * Signs and queues a DEVICE_COMMAND for one player of `accountId` (offline too), and follows the
 * device's stream so its DEVICE_COMMAND_ACK arrives verified in the local log.
 */
export function sendDeviceCommand(
  client: Pick<SyncClient, 'append' | 'follow'>,
  accountId: string,
  deviceIdentityId: string,
  command: string,
  args?: CommandArgs,
): Promise<Receipt> {
  client.follow(deviceStreamKey(deviceIdentityId))
  return client.append(remoteStreamKey(accountId, deviceIdentityId), 'DEVICE_COMMAND', { command, ...(args ? { args } : {}) })
}

export interface CommandAck {
  commandEventId: string
  command: string
  result: 'done' | 'unsupported' | 'refused'
  message?: string
  ackEventId: string
  createdAt: string
}

/** The device's answers to commands, from its verified stream receipts, by command eventId. */
export function commandAcks(deviceReceipts: readonly Receipt[]): Map<string, CommandAck> {
  const acks = new Map<string, CommandAck>()
  for (const r of deviceReceipts) {
    if (r.type !== 'DEVICE_COMMAND_ACK') continue
    const p = r.payload as Omit<CommandAck, 'ackEventId' | 'createdAt'>
    acks.set(p.commandEventId, { ...p, ackEventId: r.eventId, createdAt: r.createdAt })
  }
  return acks
}
