/**
 * Remote control (issue 12 §6): the owner's DEVICE_COMMAND receipts in `remote/{accountId}/{deviceId}`,
 * delivered over the sync connection and verified by the sync engine (relay checkpoint and inclusion
 * proof, the issuer's signature under a valid key, the chain). The player obeys a command only when its
 * issuer is an identity of the account it is paired with — read from the issuer's identity stream, which
 * the engine verified before the command — and answers every command once with DEVICE_COMMAND_ACK in its
 * own stream (`done`, `unsupported`, `refused`). Which commands were answered is read back from its own
 * stream and outbox, so a restart (or a crash after the answer was queued) never obeys a command twice.
 */
import type { LocalLog, SyncClient } from '@pixpax/client-sdk'
import {
  deviceStreamKey,
  DeviceCommandPayload,
  remoteStreamKey,
  Sha256RefSchema,
  type DeviceCapabilities,
  type Receipt,
} from '@pixpax/shared'
import { ChannelFormatError, parseChannel, type Channel } from '../channels/channel.js'
import type { PlaylistItem } from '../channels/channel-source.js'

export type CommandResult = 'done' | 'unsupported' | 'refused'
export interface CommandOutcome {
  result: CommandResult
  message?: string
}

/** What a command acts on: the daemon's playback and channel. */
export interface RemoteTarget {
  readonly capabilities: DeviceCapabilities
  readonly playlist: readonly PlaylistItem[]
  next(): void
  back(): void
  show(artwork: string): boolean
  pause(): void
  resume(): void
  playChannel(channel: Channel): Promise<void>
}

/** Carries out one (verified, authorized) command. */
export async function executeCommand(receipt: Receipt, target: RemoteTarget): Promise<CommandOutcome> {
  const parsed = DeviceCommandPayload.safeParse(receipt.payload)
  if (!parsed.success) return { result: 'refused', message: `not a command: ${parsed.error.issues[0]!.message}` }
  const { command, args = {} } = parsed.data
  const arg = (name: string): string | undefined => (typeof args[name] === 'string' ? args[name] : undefined)
  switch (command) {
    case 'next':
      target.next()
      return { result: 'done' }
    case 'back':
      target.back()
      return { result: 'done' }
    case 'pause':
      target.pause()
      return { result: 'done' }
    case 'resume':
      target.resume()
      return { result: 'done' }
    case 'show': {
      const postId = arg('postId')
      const artwork = arg('artwork')
      if (artwork !== undefined && !Sha256RefSchema.safeParse(artwork).success)
        return { result: 'refused', message: 'artwork: not a sha256 ref' }
      // Only art of the current channel: its hash comes from a verified post, and its bytes are cached.
      const item = target.playlist.find(
        (i) => (postId !== undefined && i.source === postId) || (artwork !== undefined && i.artwork === artwork),
      )
      if (!item) return { result: 'refused', message: 'show: not in the current channel' }
      return target.show(item.artwork) ? { result: 'done' } : { result: 'refused', message: 'show: not downloaded yet' }
    }
    case 'play-channel':
    case 'play-playlist': {
      let channel: Channel
      try {
        channel =
          command === 'play-channel'
            ? parseChannel(arg('channel') ?? '')
            : parseChannel(`playlist:${arg('owner') ?? receipt.issuer.identityId}/${arg('playlistId') ?? ''}`)
      } catch (error) {
        if (error instanceof ChannelFormatError) return { result: 'refused', message: error.message.slice(0, 500) }
        throw error
      }
      await target.playChannel(channel)
      return { result: 'done' }
    }
    case 'brightness':
    case 'rotation':
    case 'mirror':
      // None of the display adapters can do these yet; a display that declares one would get a hook here.
      return { result: 'unsupported', message: `this display does not support ${command}` }
    default:
      return { result: 'unsupported', message: `unknown command ${command}` }
  }
}

export interface RemoteInboxEvents {
  /** One line per answered command (the daemon prints it). */
  answered(receipt: Receipt, outcome: CommandOutcome): void
}

/** Follows the paired account's command stream for this device and answers each command once. */
export class RemoteInbox {
  private chain: Promise<void> = Promise.resolve()
  private off: (() => void) | undefined
  private accountId: string | undefined

  constructor(
    private readonly client: SyncClient,
    private readonly log: LocalLog,
    private readonly deviceIdentityId: string,
    private readonly target: RemoteTarget,
    private readonly events: RemoteInboxEvents,
  ) {}

  /** Starts obeying commands of `accountId` (on pairing, or at start when already paired). */
  open(accountId: string): void {
    this.accountId = accountId
    const key = remoteStreamKey(accountId, this.deviceIdentityId)
    this.off?.()
    this.off = this.client.on('receipt', (logged) => {
      if (logged.streamKey === key) this.drain()
    })
    this.client.follow(key)
    this.drain()
  }

  /** Stops obeying (unpaired). Commands already answered stay answered. */
  close(): Promise<void> {
    this.accountId = undefined
    this.off?.()
    this.off = undefined
    return this.chain
  }

  /** Waits for the answers in progress. */
  idle(): Promise<void> {
    return this.chain
  }

  private drain(): void {
    this.chain = this.chain.then(() => this.answerNew()).catch(() => undefined)
  }

  /**
   * A command that came by another transport (MQTT, transport/mqtt-commands.ts): `verify` decides whether
   * it is a verified command of this device's stream; if so it is answered like one from the log (once:
   * whichever path brings it first answers it).
   */
  deliver(verify: (remoteKey: string) => Promise<Receipt | undefined>): Promise<void> {
    const run = async () => {
      const accountId = this.accountId
      if (!accountId) return
      const receipt = await verify(remoteStreamKey(accountId, this.deviceIdentityId))
      if (!receipt || this.accountId !== accountId) return
      const answered = await this.answered()
      if (!answered.has(receipt.eventId)) await this.answer(receipt, accountId)
    }
    const done = this.chain.then(run)
    this.chain = done.catch(() => undefined)
    return done
  }

  private async answerNew(): Promise<void> {
    const accountId = this.accountId
    if (!accountId) return
    const answered = await this.answered()
    for (const { receipt } of await this.log.read(remoteStreamKey(accountId, this.deviceIdentityId))) {
      if (answered.has(receipt.eventId) || this.accountId !== accountId) continue
      await this.answer(receipt, accountId)
      answered.add(receipt.eventId)
    }
  }

  /** Checks the issuer's account, carries the command out, and queues the answer in the device's stream. */
  private async answer(receipt: Receipt, accountId: string): Promise<void> {
    const outcome = (await this.isOfAccount(receipt.issuer.identityId, accountId))
      ? await executeCommand(receipt, this.target)
      : { result: 'refused' as const, message: `issuer ${receipt.issuer.identityId} is not an identity of account ${accountId}` }
    const command = typeof receipt.payload.command === 'string' ? receipt.payload.command : 'unknown'
    await this.client.append(
      deviceStreamKey(this.deviceIdentityId),
      'DEVICE_COMMAND_ACK',
      {
        commandEventId: receipt.eventId,
        command: /^[a-z][a-z0-9-]{0,31}$/.test(command) ? command : 'unknown',
        result: outcome.result,
        ...(outcome.message ? { message: outcome.message.slice(0, 500) } : {}),
      },
      { idempotencyKey: `ack-${receipt.eventId}` },
    )
    this.events.answered(receipt, outcome)
  }

  /** Commands answered so far: acks in the device's stream and in its outbox. */
  private async answered(): Promise<Set<string>> {
    const deviceKey = deviceStreamKey(this.deviceIdentityId)
    const acks = [
      ...(await this.log.read(deviceKey)).map((l) => l.receipt),
      ...this.client
        .pending()
        .filter((e) => e.streamKey === deviceKey)
        .map((e) => e.receipt),
    ]
    return new Set(acks.filter((r) => r.type === 'DEVICE_COMMAND_ACK').map((r) => r.payload.commandEventId as string))
  }

  /** Whether the issuer's verified IDENTITY_CREATED names this account. */
  private async isOfAccount(identityId: string, accountId: string): Promise<boolean> {
    const [created] = await this.log.read(`identity/${identityId}`, 0, 1)
    return created?.receipt.type === 'IDENTITY_CREATED' && created.receipt.payload.accountId === accountId
  }
}
