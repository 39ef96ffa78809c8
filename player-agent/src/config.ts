/**
 * The player's configuration, parsed once from the environment and the command line (flags win):
 *
 * | variable | flag | default |
 * | --- | --- | --- |
 * | RELAY_URL | --relay | (required) |
 * | PLAYER_DIR | --dir | ./data/player |
 * | PLAYER_DISPLAY | --display terminal\|png\|http | terminal on a TTY, else png |
 * | PLAYER_PLAYLIST | --playlist FILE | none (a static list of art hashes, JSON) |
 * | PLAYER_CHANNEL | --channel | none: the last channel a remote command chose, else the owner's posts |
 * | PLAYER_HEARTBEAT_SECONDS | --heartbeat-seconds | 60 |
 * | PLAYER_CACHE_BYTES | --cache-bytes | 268435456 (256 MiB) |
 * | PLAYER_HTTP_PORT | --http-port | 8790 (0: any free port) |
 * | PLAYER_POLL_MS | --poll-ms | 2000 (pairing status poll while unpaired) |
 * | PLAYER_PAIRED_CHECK_MS | --paired-check-ms | 30000 (while paired: is it still? unpairing revokes it) |
 * | PLAYER_FRAME_MAX | --frame-max | 256 (PNG display max width = height) |
 * | PLAYER_STILL_SECONDS | --still-seconds | 10 (how long a channel's still image is shown) |
 * | PLAYER_WITNESS_MS | --witness-ms | 60000 (at most one cosignature of the relay's checkpoint per this many ms) |
 * | PLAYER_MQTT | --mqtt | off (1/true: also take commands over the relay's MQTT bridge when it offers one) |
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { ChannelFormatError, parseChannel, type Channel } from './channels/channel.js'

export const DISPLAYS = ['terminal', 'png', 'http'] as const
export type DisplayKind = (typeof DISPLAYS)[number]

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback)

const Schema = z.object({
  relayUrl: z.url({ protocol: /^https?$/, error: 'RELAY_URL must be an http(s) URL' }),
  dir: z.string().min(1),
  display: z.enum(DISPLAYS, { error: `--display must be one of ${DISPLAYS.join(', ')}` }),
  playlist: z.string().min(1).optional(),
  heartbeatSeconds: int(60, 1),
  cacheBytes: int(256 * 1024 * 1024, 1),
  httpPort: int(8790),
  pollMs: int(2000, 10),
  pairedCheckMs: int(30_000, 10),
  frameMax: int(256, 8),
  stillSeconds: int(10, 1),
  witnessMs: int(60_000, 10),
  mqtt: z
    .enum(['1', 'true', '0', 'false', ''])
    .default('')
    .transform((v) => v === '1' || v === 'true'),
})

export type PlayerConfig = Readonly<z.infer<typeof Schema> & { channel?: Channel }>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export function loadPlayerConfig(env: NodeJS.ProcessEnv, argv: string[], isTTY = false): PlayerConfig {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      options: {
        relay: { type: 'string' },
        dir: { type: 'string' },
        display: { type: 'string' },
        playlist: { type: 'string' },
        channel: { type: 'string' },
        'heartbeat-seconds': { type: 'string' },
        'cache-bytes': { type: 'string' },
        'http-port': { type: 'string' },
        'poll-ms': { type: 'string' },
        'paired-check-ms': { type: 'string' },
        'frame-max': { type: 'string' },
        'still-seconds': { type: 'string' },
        'witness-ms': { type: 'string' },
        mqtt: { type: 'boolean' },
      },
    }).values
  } catch (error) {
    throw new ConfigError((error as Error).message)
  }
  const pick = (flag: string, variable: string): string | undefined => {
    const v = values[flag]
    return typeof v === 'string' ? v : env[variable] || undefined
  }
  const raw = {
    relayUrl: pick('relay', 'RELAY_URL'),
    dir: resolve(pick('dir', 'PLAYER_DIR') ?? './data/player'),
    display: pick('display', 'PLAYER_DISPLAY') ?? (isTTY ? 'terminal' : 'png'),
    playlist: pick('playlist', 'PLAYER_PLAYLIST'),
    heartbeatSeconds: pick('heartbeat-seconds', 'PLAYER_HEARTBEAT_SECONDS'),
    cacheBytes: pick('cache-bytes', 'PLAYER_CACHE_BYTES'),
    httpPort: pick('http-port', 'PLAYER_HTTP_PORT'),
    pollMs: pick('poll-ms', 'PLAYER_POLL_MS'),
    pairedCheckMs: pick('paired-check-ms', 'PLAYER_PAIRED_CHECK_MS'),
    frameMax: pick('frame-max', 'PLAYER_FRAME_MAX'),
    stillSeconds: pick('still-seconds', 'PLAYER_STILL_SECONDS'),
    witnessMs: pick('witness-ms', 'PLAYER_WITNESS_MS'),
    mqtt: values.mqtt === true ? 'true' : (env.PLAYER_MQTT ?? ''),
  }
  if (!raw.relayUrl) throw new ConfigError('RELAY_URL (or --relay) is required, e.g. RELAY_URL=http://127.0.0.1:8787')
  const parsed = Schema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new ConfigError(`${issue.path.join('.')}: ${issue.message}`)
  }
  let channel: Channel | undefined
  const channelText = pick('channel', 'PLAYER_CHANNEL')
  try {
    channel = channelText ? parseChannel(channelText) : undefined
  } catch (error) {
    if (error instanceof ChannelFormatError) throw new ConfigError(error.message)
    throw error
  }
  return Object.freeze({ ...parsed.data, ...(raw.playlist ? { playlist: resolve(raw.playlist) } : {}), ...(channel ? { channel } : {}) })
}
