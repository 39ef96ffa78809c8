/**
 * The channel source a channel name calls for: a RelayChannelSource for a simple channel, a PlaysetSource
 * over RelayChannelSources for a playset — all reading the same verified streams, the relay's lists as
 * remembered on disk, and its takedown list.
 */
import type { Channel, SimpleChannel } from './channel.js'
import type { ChannelSource } from './channel-source.js'
import { PlaysetSource } from './playset-source.js'
import { RelayChannelSource, type PostDirectory } from './relay-channel-source.js'
import type { VerifiedStreams } from './verified-streams.js'

export interface ChannelDeps {
  streams: VerifiedStreams
  directory: PostDirectory
  takedowns: () => Promise<ReadonlySet<string>>
  durationSeconds: number
  warn: (line: string) => void
}

export function channelSource(channel: Channel, deps: ChannelDeps): ChannelSource {
  const relaySource = (simple: SimpleChannel) =>
    new RelayChannelSource(simple, deps.streams, deps.directory, {
      warn: deps.warn,
      durationSeconds: deps.durationSeconds,
      takedowns: deps.takedowns,
    })
  return channel.kind === 'playset' ? new PlaysetSource(channel, relaySource, deps.warn) : relaySource(channel)
}
