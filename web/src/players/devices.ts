/**
 * The players of this account, through client-sdk's devices functions: the list is fetched again every
 * POLL_MS (a player goes offline by going silent, which no event announces) and at once when the relay's
 * log grows or our outbox moves (`changes`: a heartbeat or a command's answer arrived). Each listed player's
 * own stream is followed by the sync client, so its DEVICE_COMMAND_ACKs reach the local log verified, and
 * so is its commands stream, so a command chains onto what other browsers of the account sent.
 */
import {
  commandAcks,
  listDevices,
  pairDevice,
  renameDevice,
  sendDeviceCommand,
  unpairDevice,
  type CommandAck,
  type CommandArgs,
  type DeviceListing,
} from '@pixpax/client-sdk'
import { deviceStreamKey, remoteStreamKey, type Receipt } from '@pixpax/shared'
import { useEffect, useState } from 'preact/hooks'
import { useStore } from '../app/store.js'
import { changes, identityState, localReceipts, queued, syncClient, token } from '../identity/identity-session.js'

export const POLL_MS = 5000

async function session(): Promise<string> {
  const t = await token()
  if (!t) throw new Error('sign in to the relay first (you may be offline)')
  return t
}

export interface DevicesQuery {
  devices?: DeviceListing[]
  error?: string
}

export function useDevices(): DevicesQuery {
  const tick = useStore(changes)
  const [poll, setPoll] = useState(0)
  const [state, setState] = useState<DevicesQuery>({})
  useEffect(() => {
    const timer = setInterval(() => setPoll((n) => n + 1), POLL_MS)
    return () => clearInterval(timer)
  }, [])
  useEffect(() => {
    let cancelled = false
    session()
      .then((t) => listDevices(location.origin, t))
      .then(
        (devices) => {
          if (cancelled) return
          const c = syncClient()
          const accountId = identityState.value.identity?.accountId
          for (const d of devices) {
            c?.follow(deviceStreamKey(d.deviceIdentityId))
            // The commands stream too: another browser of this identity may have opened it, and a command
            // signed here must chain onto its head.
            if (accountId) c?.follow(remoteStreamKey(accountId, d.deviceIdentityId))
          }
          setState({ devices })
        },
        (error: unknown) =>
          !cancelled &&
          setState((s) => ({ ...s, error: navigator.onLine ? (error as Error).message : 'You are offline: the list is as last seen.' })),
      )
    return () => {
      cancelled = true
    }
  }, [tick, poll])
  return state
}

export async function pair(code: string, name: string): Promise<string> {
  const paired = await pairDevice(location.origin, await session(), code, name)
  syncClient()?.follow(deviceStreamKey(paired.deviceIdentityId))
  queued() // refetch the list
  return paired.name
}

export async function rename(deviceIdentityId: string, name: string): Promise<void> {
  await renameDevice(location.origin, await session(), deviceIdentityId, name)
  queued()
}

export async function unpair(deviceIdentityId: string): Promise<void> {
  await unpairDevice(location.origin, await session(), deviceIdentityId)
  queued()
}

/** Signs a DEVICE_COMMAND here and queues it (offline too); the player answers in its own stream. */
export async function command(deviceIdentityId: string, name: string, args?: CommandArgs): Promise<Receipt> {
  const c = syncClient()
  const accountId = identityState.value.identity?.accountId
  if (!c || !accountId) throw new Error('create an identity first')
  const receipt = await sendDeviceCommand(c, accountId, deviceIdentityId, name, args)
  queued()
  return receipt
}

export interface SentCommand {
  eventId: string
  command: string
  args?: CommandArgs
  createdAt: string
  pending: boolean
  ack?: CommandAck
}

/** The commands sent to one player (confirmed and pending, newest first) with the player's answers. */
export function useCommands(deviceIdentityId: string): SentCommand[] {
  const tick = useStore(changes)
  const accountId = useStore(identityState).identity?.accountId
  const [sent, setSent] = useState<SentCommand[]>([])
  useEffect(() => {
    if (!accountId) return
    const remote = remoteStreamKey(accountId, deviceIdentityId)
    let cancelled = false
    void Promise.all([localReceipts(remote), localReceipts(deviceStreamKey(deviceIdentityId))]).then(([confirmed, device]) => {
      if (cancelled) return
      const acks = commandAcks(device)
      const seen = new Set(confirmed.map((r) => r.eventId))
      const pending = (syncClient()?.pending() ?? [])
        .filter((e) => e.streamKey === remote && e.state !== 'rejected' && !seen.has(e.receipt.eventId))
        .map((e) => e.receipt)
      const all = [...confirmed.map((r) => ({ r, pending: false })), ...pending.map((r) => ({ r, pending: true }))]
      setSent(
        all
          .map(({ r, pending }) => ({
            eventId: r.eventId,
            command: String(r.payload.command),
            ...(r.payload.args ? { args: r.payload.args as CommandArgs } : {}),
            createdAt: r.createdAt,
            pending,
            ...(acks.has(r.eventId) ? { ack: acks.get(r.eventId)! } : {}),
          }))
          .reverse()
          .slice(0, 10),
      )
    })
    return () => {
      cancelled = true
    }
  }, [tick, accountId, deviceIdentityId])
  return sent
}
