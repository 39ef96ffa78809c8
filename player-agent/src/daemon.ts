/**
 * The player daemon, the composition root: key store, file log and sync engine (client-sdk), the
 * verified cache, a display, the channel source, and three loops — pairing, art sync, heartbeats — plus
 * the play loop. It prints a few stable lines on stdout that scripts and tests read:
 *
 *   PAIRING CODE: XXXXXX     identity: <id>     paired     unpaired     channel <channel>
 *   command <eventId> <name> done|unsupported|refused
 *   downloading <hash>       cached <hash>      refused <hash> <CODE>     showing <hash>
 *   relay offline            relay online       stopped
 *   view <viewedAt>             (a view is in the views journal: it survives a crash)
 *   views <n> <last viewedAt>   (a DEVICE_VIEWS batch is in the outbox)
 */
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { SyncClient, type WebSocketFactory, type WebSocketLike } from '@pixpax/client-sdk'
import { FileKeyStore, FileLocalLog } from '@pixpax/client-sdk/node'
import { deviceStreamKey, type DeviceStatus } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import WebSocket from 'ws'
import { BlobCache, BlobHashMismatchError } from './cache/blob-cache.js'
import { Downloader } from './cache/downloader.js'
import { ChannelSchema, formatChannel, type Channel } from './channels/channel.js'
import { channelSource } from './channels/channel-factory.js'
import { filterForDisplay, StaticListSource, type ChannelSource, type PlaylistItem } from './channels/channel-source.js'
import type { PostDirectory } from './channels/relay-channel-source.js'
import { RememberedLists } from './channels/remembered-lists.js'
import { syncedStreams, type VerifiedStreams } from './channels/verified-streams.js'
import type { PlayerConfig } from './config.js'
import type { DeviceAdapter } from './device/device-adapter.js'
import { HttpDisplay } from './device/http-display.js'
import { PngDisplay } from './device/png-display.js'
import { TerminalDisplay } from './device/terminal-display.js'
import { atomicWriteFile } from './fs/atomic-write.js'
import { lockDirectory } from './fs/dir-lock.js'
import { loadOrCreateDeviceIdentity, postGenesis, queueRegistration, type DeviceIdentity } from './identity/device-identity.js'
import { Playback } from './player/playback.js'
import { Wakeable } from './player/wakeable.js'
import { progressBar, type ProgressOut } from './progress.js'
import { httpFetch } from './relay/http-fetch.js'
import { RelayApi, RelayDirectory } from './relay/relay-api.js'
import { RemoteInbox } from './remote/remote-control.js'
import { showOutside } from './remote/show-outside.js'
import { MqttCommands } from './transport/mqtt-commands.js'
import { ClockCheck } from './views/clock-check.js'
import { ViewJournal } from './views/view-journal.js'
import { ViewReporter } from './views/view-reporter.js'

const nodeWebSocket: WebSocketFactory = (url) => new WebSocket(url) as unknown as WebSocketLike

export interface DaemonIo {
  /** Protocol lines (stdout). */
  say(line: string): void
  /** Progress bars and diagnostics (stderr). */
  progress: ProgressOut
  warn(line: string): void
}

interface PairingState {
  accountId: string
  /** The identity that paired the device (absent in pairing files of older players). */
  ownerIdentityId?: string
  name: string
  pairedAt: string
}

export function openDisplay(config: PlayerConfig, terminal: NodeJS.WritableStream): DeviceAdapter {
  switch (config.display) {
    case 'png':
      return new PngDisplay({ dir: join(config.dir, 'display'), maxWidth: config.frameMax, maxHeight: config.frameMax })
    case 'http':
      return new HttpDisplay({ port: config.httpPort })
    case 'terminal':
      return new TerminalDisplay({ out: terminal })
  }
}

export class PlayerDaemon {
  private running = false
  /** Wakes every loop (each waits on its own waiter, so none misses a wake while busy). */
  private readonly wake = new Wakeable()
  private readonly loops: Promise<void>[] = []
  private paired: PairingState | undefined
  private playlist: PlaylistItem[] = []
  private readonly refusedSinceReport = new Set<string>()
  private readonly refusedPrinted = new Set<string>()
  private readonly startedAt = Date.now()
  private online = false
  private wasOnline = false
  private syncStarted = false
  /** What plays: a static list, a channel, or nothing yet (unpaired, no channel chosen). */
  private source: ChannelSource | undefined
  private sourceOff: (() => void) | undefined
  private readonly streams: VerifiedStreams
  private readonly directory: RelayDirectory
  /** The relay's feeds and takedown list as last seen, kept on disk for offline restarts. */
  private readonly lists: RememberedLists
  private readonly listedDirectory: PostDirectory
  private takedownsInFlight: Promise<ReadonlySet<string>> | undefined
  private readonly inbox: RemoteInbox
  /** The MQTT bridge (PLAYER_MQTT): commands and channel notices by the broker too; WebSocket stays on. */
  private readonly mqtt: MqttCommands | undefined
  /** Views of what the display showed (issue 12 §7), batched into the outbox with the heartbeats. */
  private views: ViewReporter | undefined

  private constructor(
    private readonly config: PlayerConfig,
    private readonly io: DaemonIo,
    private readonly identity: DeviceIdentity,
    private readonly log: FileLocalLog,
    private readonly client: SyncClient,
    private readonly api: RelayApi,
    private readonly cache: BlobCache,
    private readonly display: DeviceAdapter,
    private readonly playback: Playback,
    private readonly downloader: Downloader,
    private readonly lock: { release(): Promise<void> },
  ) {
    this.streams = syncedStreams(client, log)
    this.directory = new RelayDirectory(config.relayUrl, httpFetch)
    this.lists = new RememberedLists(join(config.dir, 'channel-lists.json'), (line) => io.warn(line))
    this.listedDirectory = this.lists.directory(this.directory)
    const currentPlaylist = () => this.playlist
    this.inbox = new RemoteInbox(
      client,
      log,
      identity.identityId,
      {
        get capabilities() {
          return display.capabilities
        },
        get playlist() {
          return currentPlaylist()
        },
        next: () => playback.next(),
        back: () => playback.back(),
        show: (artwork) => playback.show(artwork),
        showOutside: (postId) =>
          showOutside(postId, {
            streams: this.streams,
            directory: this.directory,
            takedowns: () => this.takedowns(),
            capabilities: () => display.capabilities,
            cached: (artwork) => cache.has(artwork),
            fetch: (artwork) => this.fetchArt(artwork),
            show: (item) => playback.show(item.artwork, item),
            durationSeconds: config.stillSeconds,
            warn: (line) => io.warn(line),
          }),
        pause: () => playback.pause(),
        resume: () => playback.resume(),
        playChannel: (channel) => this.playChannel(channel, true),
      },
      {
        answered: (receipt, outcome) => io.say(`command ${receipt.eventId} ${String(receipt.payload.command)} ${outcome.result}`),
      },
    )
    if (config.mqtt) {
      this.mqtt = new MqttCommands({
        deviceIdentityId: identity.identityId,
        log,
        verifier: nodeVerifier(),
        sha256: nodeSha256,
        follow: (key) => client.follow(key),
        inbox: this.inbox,
        channelChanged: () => this.channelChanged(),
        say: (line) => io.say(line),
        warn: (line) => io.warn(line),
      })
    }
  }

  static async open(config: PlayerConfig, io: DaemonIo, display: DeviceAdapter): Promise<PlayerDaemon> {
    await mkdir(config.dir, { recursive: true, mode: 0o700 })
    const lock = await lockDirectory(join(config.dir, 'lock'))
    const keys = new FileKeyStore(join(config.dir, 'keys'))
    const identity = await loadOrCreateDeviceIdentity(keys, join(config.dir, 'identity.json'))
    const log = await FileLocalLog.open(join(config.dir, 'log'))
    // Every relay answer's Date header tells whether the device clock can time its views.
    const clock = new ClockCheck()
    const api = new RelayApi(config.relayUrl, identity.identityId, identity.signer, clock.observing(httpFetch))
    // The play loop reports refusals to the daemon, which is built last.
    const late: { daemon?: PlayerDaemon } = {}
    const client = await SyncClient.open({
      relayUrl: config.relayUrl,
      log,
      identityId: identity.identityId,
      signer: identity.signer,
      webSocket: nodeWebSocket,
      fetch: httpFetch,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      streams: [deviceStreamKey(identity.identityId)],
      token: () => api.token().catch(() => undefined),
      // The player is a witness (docs/player.md): it countersigns the newest relay checkpoint it verified,
      // so a relay cannot show it and a browser different histories without one of them seeing a fork.
      cosign: true,
      cosignIntervalMs: config.witnessMs,
    })
    const cache = await BlobCache.open(join(config.dir, 'cache'), config.cacheBytes)
    await display.open()
    const downloader = new Downloader({ relayUrl: config.relayUrl, token: () => api.token().catch(() => undefined), fetch: httpFetch })
    const playback = new Playback(cache, display, {
      showing: (artwork) => io.say(`showing ${artwork}`),
      refused: (artwork, code, message) => late.daemon?.refuse(artwork, code, message),
      viewed: (item) => late.daemon?.views?.record(item, late.daemon.channel),
    })
    const daemon = new PlayerDaemon(config, io, identity, log, client, api, cache, display, playback, downloader, lock)
    late.daemon = daemon
    const views = new ViewReporter(
      client,
      identity.identityId,
      {
        now: Date.now,
        get synced() {
          return clock.synced
        },
      },
      { journaled: (view) => io.say(`view ${view.viewedAt}`), warn: (line) => io.warn(line) },
    )
    await views.open(log, await ViewJournal.open(join(config.dir, 'views.journal')))
    daemon.views = views
    await queueRegistration(client, identity, display.capabilities)
    daemon.paired = await daemon.readPairing()
    if (config.playlist) daemon.setSource(new StaticListSource(config.playlist))
    else {
      const channel = config.channel ?? (await daemon.readChannel()) ?? daemon.defaultChannel()
      if (channel) await daemon.playChannel(channel)
    }
    return daemon
  }

  get identityId(): string {
    return this.identity.identityId
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.client.on('status', (status) => this.onSyncStatus(status))
    this.client.on('acked', () => this.wake.wake())
    this.client.on('rejected', (entry) => this.io.warn(`relay refused ${entry.receipt.type}: ${JSON.stringify(entry.error ?? {})}`))
    this.client.on('cosigned', (result) => this.io.say(`cosigned checkpoint ${result.size}`))
    if (this.paired) {
      // Known paired from the last run: play from the cache at once, relay or not.
      this.io.say(`identity: ${this.identityId}`)
      this.io.say('paired')
      this.playback.start()
      this.inbox.open(this.paired.accountId)
    }
    this.loops.push(this.pairingLoop(), this.artLoop(), this.heartbeatLoop())
  }

  /** Stops every loop, flushes and closes the log, closes the sync socket and the display. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.wake.wake()
    await this.playback.stop()
    await Promise.allSettled(this.loops)
    await this.mqtt?.close()
    await this.flushViews()
    await this.views?.close()
    await this.inbox.close()
    await this.client.stop()
    await this.log.close()
    await this.display.close()
    await this.lock.release()
  }

  // ── pairing ───────────────────────────────────────────────────────────────────────────────────────

  private pairingFile(): string {
    return join(this.config.dir, 'pairing.json')
  }

  // ── channels ──────────────────────────────────────────────────────────────────────────────────────

  private channelFile(): string {
    return join(this.config.dir, 'channel.json')
  }

  /** The channel a remote command chose last (kept across restarts), if any. */
  private async readChannel(): Promise<Channel | undefined> {
    try {
      const parsed = ChannelSchema.safeParse(JSON.parse(await readFile(this.channelFile(), 'utf8')))
      return parsed.success ? parsed.data : undefined
    } catch {
      return undefined
    }
  }

  /** Without a chosen channel, a paired player plays its owner's posts. */
  private defaultChannel(): Channel | undefined {
    const owner = this.paired?.ownerIdentityId
    return owner ? { kind: 'user', identityId: owner } : undefined
  }

  private channelChanged(): void {
    this.wake.wake()
  }

  private setSource(source: ChannelSource): void {
    this.sourceOff?.()
    this.source = source
    // A verified receipt in a stream the channel reads: load it again now, not at the next art sync.
    this.sourceOff = source.onChange(() => this.channelChanged())
    this.channelChanged()
  }

  /** Plays `channel` from now on; `persist` keeps it for the next start (a remote command's choice). */
  async playChannel(channel: Channel, persist = false): Promise<void> {
    if (persist) await atomicWriteFile(this.channelFile(), JSON.stringify(channel) + '\n')
    this.setSource(
      channelSource(channel, {
        streams: this.streams,
        directory: this.listedDirectory,
        takedowns: () => this.takedowns(),
        durationSeconds: this.config.stillSeconds,
        warn: (line) => this.io.warn(line),
      }),
    )
    this.io.say(`channel ${formatChannel(channel)}`)
  }

  /** The relay's takedown list (remembered offline); loads running together share one request. */
  private takedowns(): Promise<ReadonlySet<string>> {
    this.takedownsInFlight ??= this.lists.takedowns(() => this.directory.takedowns()).finally(() => (this.takedownsInFlight = undefined))
    return this.takedownsInFlight
  }

  get channel(): string | undefined {
    return this.source?.name
  }

  private async readPairing(): Promise<PairingState | undefined> {
    try {
      return JSON.parse(await readFile(this.pairingFile(), 'utf8')) as PairingState
    } catch {
      return undefined
    }
  }

  private async pairingLoop(): Promise<void> {
    const wake = this.wake.waiter()
    let identityPrinted = this.paired !== undefined
    let failures = 0
    let code: { code: string; expiresAt: number } | undefined
    while (this.running) {
      try {
        if (!this.syncStarted) {
          // The identity first, then a session, then the sync engine, whose hello carries that session.
          await postGenesis(this.config.relayUrl, this.identity.genesis, httpFetch)
          await this.api.token()
          this.client.start()
          this.syncStarted = true
        }
        const self = await this.api.self()
        failures = 0
        if (self.paired) {
          code = undefined
          if (!this.paired) {
            this.paired = {
              accountId: self.accountId!,
              ...(self.ownerIdentityId ? { ownerIdentityId: self.ownerIdentityId } : {}),
              name: self.name!,
              pairedAt: self.pairedAt!,
            }
            await atomicWriteFile(this.pairingFile(), JSON.stringify(this.paired) + '\n')
            if (!this.source) {
              const channel = this.defaultChannel()
              if (channel) await this.playChannel(channel)
            }
            if (!identityPrinted) this.io.say(`identity: ${this.identityId}`)
            identityPrinted = true
            this.io.say('paired')
            await this.display.message(`paired: ${self.name}`).catch(() => undefined)
            this.playback.start()
            this.inbox.open(self.accountId!)
            this.wake.wake()
          }
          // MQTT bridge: connected with the credentials the relay hands out (after the inbox is open); an
          // answer without them (the relay's broker link is down) leaves a working connection alone.
          if (self.mqtt) await this.mqtt?.update(self.mqtt)
          await wake.wait(this.config.pairedCheckMs)
          continue
        }
        await this.mqtt?.update(undefined)
        if (this.paired) {
          this.paired = undefined
          await rm(this.pairingFile(), { force: true })
          await this.inbox.close()
          await this.playback.stop()
          this.io.say('unpaired')
        }
        if (!code || code.expiresAt <= Date.now()) {
          const fresh = await this.api.newPairingCode()
          code = { code: fresh.code, expiresAt: Date.parse(fresh.expiresAt) }
          this.io.say(`PAIRING CODE: ${code.code}`)
          if (!identityPrinted) this.io.say(`identity: ${this.identityId}`)
          identityPrinted = true
          await this.display.message(`PAIRING CODE: ${code.code}`).catch(() => undefined)
        }
        await wake.wait(this.config.pollMs)
      } catch (error) {
        failures++
        // The relay is down, or the identity is not accepted yet (KEY_UNKNOWN until its receipt is acked).
        // Quiet for the first tries: the relay may be starting, or our identity not accepted yet.
        if (failures === 4 || failures % 50 === 0) this.io.warn(`pairing: ${(error as Error).message}`)
        await wake.wait(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)))
      }
    }
  }

  private onSyncStatus(status: string): void {
    const online = status === 'synced' || status === 'syncing'
    if (online === this.online) return
    this.online = online
    if (online) {
      if (this.wasOnline) this.io.say('relay online')
      this.wasOnline = true
      this.wake.wake()
    } else if (this.wasOnline && status !== 'connecting') {
      this.io.say('relay offline')
    }
  }

  // ── art ───────────────────────────────────────────────────────────────────────────────────────────

  private refuse(artwork: string, code: string, message: string): void {
    this.refusedSinceReport.add(artwork)
    if (!this.refusedPrinted.has(artwork)) {
      this.refusedPrinted.add(artwork)
      this.io.say(`refused ${artwork} ${code}`)
      this.io.warn(message)
    }
  }

  private async artLoop(): Promise<void> {
    // A channel change announced while a pass runs makes the next wait return at once (Wakeable).
    const wake = this.wake.waiter()
    let failures = 0
    while (this.running) {
      if (!this.paired) {
        await wake.wait(this.config.refreshMs)
        continue
      }
      let ok = true
      try {
        const caps = this.display.capabilities
        if (!this.source) {
          await wake.wait(this.config.refreshMs)
          continue
        }
        this.playlist = filterForDisplay(await this.source.load(), caps)
        this.cache.pin(this.playlist.map((i) => i.artwork))
        this.playback.setPlaylist(this.playlist)
        for (const item of this.playlist) {
          if (!this.running || !this.paired) break
          if (this.cache.has(item.artwork)) continue
          ok = (await this.fetchArt(item.artwork)) && ok
        }
      } catch (error) {
        ok = false
        this.io.warn(`art sync: ${(error as Error).message}`)
      }
      failures = ok ? 0 : failures + 1
      await wake.wait(ok ? this.config.refreshMs : Math.min(this.config.refreshMs, 250 * 2 ** Math.min(failures, 7)))
    }
  }

  /** Downloads one blob into the cache; false when it should be tried again later. */
  private async fetchArt(artwork: string): Promise<boolean> {
    this.io.say(`downloading ${artwork}`)
    const bar = progressBar(this.io.progress, artwork.slice(0, 19))
    try {
      await this.downloader.download(this.cache, artwork, (received, total) => bar.update(received, total))
      bar.done()
      this.refusedPrinted.delete(artwork)
      this.io.say(`cached ${artwork}`)
      this.playback.retry(artwork)
      return true
    } catch (error) {
      bar.done()
      if (error instanceof BlobHashMismatchError) {
        this.refuse(artwork, error.code, error.message)
        return false
      }
      this.io.warn(`download ${artwork}: ${(error as Error).message}`)
      return false
    }
  }

  // ── heartbeats ────────────────────────────────────────────────────────────────────────────────────

  status(): DeviceStatus {
    const artwork = this.playback.artwork
    return {
      state: !this.paired ? 'unpaired' : artwork ? 'playing' : 'idle',
      capabilities: this.display.capabilities,
      ...(artwork ? { artwork } : {}),
      playlistSize: this.playlist.length,
      cacheBytes: this.cache.totalBytes,
      cachedItems: this.cache.size,
      online: this.online,
      uptimeSeconds: Math.floor((Date.now() - this.startedAt) / 1000),
      ...(this.refusedSinceReport.size ? { refused: [...this.refusedSinceReport].slice(0, 100) } : {}),
    }
  }

  /** The views recorded since the last heartbeat (journaled meanwhile), as DEVICE_VIEWS receipts in the outbox. */
  private async flushViews(): Promise<void> {
    try {
      for (const batch of (await this.views?.flush()) ?? []) this.io.say(`views ${batch.length} ${batch.at(-1)!.viewedAt}`)
    } catch (error) {
      this.io.warn(`views: ${(error as Error).message}`)
    }
  }

  /**
   * A DEVICE_STATUS every heartbeat interval, into the durable outbox: offline, they queue and go in
   * one batch when the relay is back (each exactly once — the outbox resends with stable keys).
   */
  private async heartbeatLoop(): Promise<void> {
    const wake = this.wake.waiter()
    const interval = this.config.heartbeatSeconds * 1000
    let next = Date.now()
    while (this.running) {
      if (Date.now() >= next) {
        await this.flushViews()
        try {
          await this.client.append(deviceStreamKey(this.identityId), 'DEVICE_STATUS', this.status())
          this.refusedSinceReport.clear()
        } catch (error) {
          this.io.warn(`heartbeat: ${(error as Error).message}`)
        }
        next = Date.now() + interval
      }
      await wake.wait(Math.max(0, next - Date.now()))
    }
  }
}
