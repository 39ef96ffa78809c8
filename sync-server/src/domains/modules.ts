/**
 * The relay's modules (ARCHITECTURE §7), in dependency order: each brings its migrations and, for a
 * domain, its projector. Adding a domain is adding its folder and one line here.
 */
import { migrationsDir, type ModuleMigrations } from '../db/migrate.js'
import { devicesFacts } from '../devices/facts.js'
import { devicesProjector } from '../devices/projector.js'
import { deviceViewsFacts } from '../devices/views/facts.js'
import { deviceViewsProjector } from '../devices/views/projector.js'
import type { Projector } from '../projection/projector.js'
import { economyFacts } from './economy/facts.js'
import { economyProjector } from './economy/projector.js'
import { identityFacts } from './identity/facts.js'
import { identityProjector } from './identity/projector.js'
import { pixbookProjector } from './pixbook/projector.js'
import { notificationsProjector } from './notifications/projector.js'
import { searchProjector } from './search/projector.js'
import { SOCIAL_FACT_LOADERS } from './social/loaders.js'
import { socialProjector } from './social/projector.js'
import { streamsProjector } from './streams/projector.js'

/**
 * Loads the facts of one kind for the rules across streams (ARCHITECTURE §7; FactRef in shared): an SQL
 * scalar subquery giving a json array of `{"k": key, "v": value}` for the keys bound as `$<param>::text[]`;
 * a key missing from the result is an absent fact. It reads the module's inline projection tables, which
 * the append transaction writes, so the next batch reads what this one accepted.
 */
export interface FactLoader {
  sql(param: number): string
}

export interface RelayModule {
  readonly name: string
  /** `src/<path>/migrations/`, applied in file order, versioned per module. */
  readonly migrations: string
  readonly projector?: Projector
  /** Loaders of the fact kinds its domain's cross-stream rules read, by kind. */
  readonly facts?: Readonly<Record<string, FactLoader>>
}

export const RELAY_MODULES: readonly RelayModule[] = [
  { name: 'ingest', migrations: migrationsDir('ingest') },
  { name: 'auth', migrations: migrationsDir('auth') },
  { name: 'streams', migrations: migrationsDir('domains/streams'), projector: streamsProjector },
  { name: 'identity', migrations: migrationsDir('domains/identity'), projector: identityProjector, facts: identityFacts },
  { name: 'pixbook', migrations: migrationsDir('domains/pixbook'), projector: pixbookProjector },
  // Migrations only here: validated media (media_blobs), read by the social module's `media` fact.
  { name: 'media', migrations: migrationsDir('media') },
  { name: 'social', migrations: migrationsDir('domains/social'), projector: socialProjector, facts: SOCIAL_FACT_LOADERS },
  // Derived views that tail the log (after social: they read its tables' immutable columns).
  { name: 'search', migrations: migrationsDir('domains/search'), projector: searchProjector },
  { name: 'notifications', migrations: migrationsDir('domains/notifications'), projector: notificationsProjector },
  { name: 'economy', migrations: migrationsDir('domains/economy'), projector: economyProjector, facts: economyFacts },
  { name: 'devices', migrations: migrationsDir('devices'), projector: devicesProjector, facts: devicesFacts },
  // Relay state only: the device-linking rendezvous (code → the second browser's public key).
  { name: 'identity-links', migrations: migrationsDir('identity-links') },
  // Views reported by players (DEVICE_VIEWS): their own module, so they rebuild and migrate on their own.
  { name: 'device-views', migrations: migrationsDir('devices/views'), projector: deviceViewsProjector, facts: deviceViewsFacts },
]

/** Every module's migrations, for `migrate(db, RELAY_MIGRATIONS)`. */
export const RELAY_MIGRATIONS: readonly ModuleMigrations[] = RELAY_MODULES.map((m) => ({ module: m.name, dir: m.migrations }))

export const PROJECTORS: readonly Projector[] = RELAY_MODULES.flatMap((m) => (m.projector ? [m.projector] : []))
export const INLINE_PROJECTORS: readonly Projector[] = PROJECTORS.filter((p) => p.mode === 'inline')
export const TAIL_PROJECTORS: readonly Projector[] = PROJECTORS.filter((p) => p.mode === 'tail')

/** Every fact kind's loader, from the modules. */
export const FACT_LOADERS: ReadonlyMap<string, FactLoader> = new Map(RELAY_MODULES.flatMap((m) => Object.entries(m.facts ?? {})))

/** Every projection table (digest order), from the projectors. */
export const PROJECTION_TABLES = PROJECTORS.flatMap((p) => p.tables)
