/**
 * Relay configuration, parsed once from the environment (STYLE: one composition root, config parsed
 * once). Every variable is documented in the README's table; defaults run on a bare machine.
 */
import { z } from 'zod'

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')
const int = (def: number) => z.coerce.number().int().positive().default(def)
const list = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
/** An optional variable that may also be present but empty (a Kubernetes Secret key left blank): unset. */
const blankIsUnset = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional())

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().default('127.0.0.1'),
  DATA_DIR: z.string().default('./data'),
  /** The web app's static build, served at `/` (none there: the relay serves the API only). */
  WEB_DIST_DIR: z.string().default('web/dist'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.string().optional(),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/)
    .optional(),
  DATABASE_POOL_SIZE: int(20),
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_BUCKET: z.string().optional(),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: bool.default(false),
  RELAY_KEY_FILE: z.string().optional(),
  RELAY_IDENTITY_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .default('pixpax-relay'),
  VAULT_ADDR: z.string().url().optional(),
  VAULT_TOKEN: z.string().optional(),
  VAULT_TRANSIT_KEY: z.string().default('pixpax-relay'),
  VAULT_TRANSIT_MOUNT: z.string().default('transit'),
  /** The acceptance log's checkpoint origin line and signature key name (docs/log.md). */
  LOG_ORIGIN: z
    .string()
    .regex(/^[\x21-\x2a\x2c-\x7e]{1,255}$/, 'printable ASCII without spaces or +')
    .default('pixpax.local/log'),
  PLATFORM_ISSUERS: list,
  MODERATORS: list,
  ADMIN_IDENTITIES: list,
  /** Append batches committing at once on Postgres (PGlite: always 1); see docs/relay.md before raising it. */
  APPEND_BATCHES_IN_FLIGHT: int(1),
  BODY_LIMIT_BYTES: int(4 * 1024 * 1024),
  MAX_RECEIPTS_PER_REQUEST: int(1000),
  RATE_LIMIT_PER_IP: int(6000),
  RATE_LIMIT_PER_IDENTITY: int(6000),
  RATE_LIMIT_WINDOW_MS: int(60_000),
  SESSION_TTL_SECONDS: int(24 * 3600),
  BLOB_MAX_BYTES: int(8 * 1024 * 1024),
  DRAFT_MAX_BYTES: int(4 * 1024 * 1024),
  DRAFT_IDLE_MS: int(5 * 60_000),
  DRAFT_MAX_HANDLES: int(1000),
  DRAFT_ACCESS_RECHECK_MS: int(60_000),
  /** Time between re-hashes of stored media (docs/media.md, "Scrubber"); Makapix's 6 h by default. */
  MEDIA_SCRUB_INTERVAL_MS: int(6 * 3600 * 1000),
  /** New users' posts stay out of Recent, hashtag feeds and search until approved or trusted (Makapix). */
  SOCIAL_REQUIRE_APPROVAL: bool.default(true),
  /** Posts search ranks within windows of this many newest matches (docs/relay.md, "Search"). */
  SEARCH_WINDOW: int(500),
  /**
   * How long a read of a tail projection (search, notifications) waits for it to cover the log as it
   * was when the request came; it then answers anyway and says how far behind (`x-projection-behind`).
   */
  TAIL_READ_WAIT_MS: int(2000),
  /** The most often a sync connection is told the log grew (`checkpoint` messages; docs/sync-protocol.md). */
  SYNC_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(0).default(1000),
  /** The MQTT bridge (docs/player.md, "MQTT bridge"): off unless set, e.g. `mqtt://127.0.0.1:1883`. */
  MQTT_URL: blankIsUnset(z.string().url()),
  /** The broker as players reach it, handed to them with their credentials (default: MQTT_URL). */
  MQTT_DEVICE_URL: blankIsUnset(z.string().url()),
  /** A dynamic-security admin client of the broker (`mosquitto_ctrl dynsec init FILE USER`). */
  MQTT_ADMIN_USERNAME: blankIsUnset(z.string().min(1)),
  MQTT_ADMIN_PASSWORD: blankIsUnset(z.string().min(1)),
  /** Key of the players' derived broker passwords (default: MQTT_ADMIN_PASSWORD); changing it changes them all. */
  MQTT_DEVICE_SECRET: blankIsUnset(z.string().min(16)),
  /**
   * Minutes between reconciliations of the broker's device accounts with the pairings (docs/player.md,
   * "MQTT bridge"): accounts of unpaired devices deleted, missing ones of paired devices created.
   */
  MQTT_RECONCILE_MINUTES: z.coerce.number().positive().default(10),
})

export type RelayConfig = Readonly<z.infer<typeof EnvSchema>>

/** Parses the environment; throws one readable error listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const parsed = EnvSchema.safeParse(env)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`)
    throw new Error(`invalid relay configuration:\n${lines.join('\n')}`)
  }
  const config = parsed.data
  if (config.S3_ENDPOINT && !config.S3_BUCKET) throw new Error('invalid relay configuration: S3_ENDPOINT is set but S3_BUCKET is not')
  if (config.VAULT_ADDR && !config.VAULT_TOKEN) throw new Error('invalid relay configuration: VAULT_ADDR is set but VAULT_TOKEN is not')
  if (config.MQTT_URL && (!config.MQTT_ADMIN_USERNAME || !config.MQTT_ADMIN_PASSWORD))
    throw new Error('invalid relay configuration: MQTT_URL is set but MQTT_ADMIN_USERNAME or MQTT_ADMIN_PASSWORD is not')
  return Object.freeze(config)
}
