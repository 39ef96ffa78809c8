/** `@pixpax/player-agent`: the player daemon and its parts (docs/player.md). */
export { loadPlayerConfig, ConfigError, DISPLAYS, type DisplayKind, type PlayerConfig } from './config.js'
export { PlayerDaemon, openDisplay, type DaemonIo } from './daemon.js'
export { assertFrameFits, type DeviceAdapter, type Frame, type ShownArt } from './device/device-adapter.js'
export { PngDisplay, type PngDisplayOptions } from './device/png-display.js'
export { TerminalDisplay, renderHalfBlocks, type TerminalDisplayOptions } from './device/terminal-display.js'
export { HttpDisplay, type HttpDisplayOptions } from './device/http-display.js'
export { BlobCache, BlobHashMismatchError, hexOf, type DownloadProgress } from './cache/blob-cache.js'
export { Downloader, DownloadError } from './cache/downloader.js'
export {
  StaticListSource,
  filterForDisplay,
  PlaylistFormatError,
  type ChannelSource,
  type PlaylistItem,
} from './channels/channel-source.js'
export { parseChannel, formatChannel, ChannelSchema, ChannelFormatError, type Channel } from './channels/channel.js'
export { RelayChannelSource, type PostDirectory, type RelayChannelOptions } from './channels/relay-channel-source.js'
export { foldProfile, type ProfileView, type VerifiedPost } from './channels/profile-view.js'
export { syncedStreams, type VerifiedStreams } from './channels/verified-streams.js'
export { decodeArt, fitFrame, encodePng, detectFormat, ArtFormatError } from './art/decode.js'
