/**
 * The relay's modules (ARCHITECTURE §7), in dependency order: each brings its migrations and, for a
 * domain, its projector. Adding a domain is adding its folder and one line here.
 */
import { migrationsDir, type ModuleMigrations } from '../db/migrate.js'
import { devicesProjector } from '../devices/projector.js'
import type { Projector } from '../projection/projector.js'
import { identityProjector } from './identity/projector.js'
import { pixbookProjector } from './pixbook/projector.js'
import { streamsProjector } from './streams/projector.js'

export interface RelayModule {
  readonly name: string
  /** `src/<path>/migrations/`, applied in file order, versioned per module. */
  readonly migrations: string
  readonly projector?: Projector
}

export const RELAY_MODULES: readonly RelayModule[] = [
  { name: 'ingest', migrations: migrationsDir('ingest') },
  { name: 'auth', migrations: migrationsDir('auth') },
  { name: 'streams', migrations: migrationsDir('domains/streams'), projector: streamsProjector },
  { name: 'identity', migrations: migrationsDir('domains/identity'), projector: identityProjector },
  { name: 'pixbook', migrations: migrationsDir('domains/pixbook'), projector: pixbookProjector },
  { name: 'devices', migrations: migrationsDir('devices'), projector: devicesProjector },
]

/** Every module's migrations, for `migrate(db, RELAY_MIGRATIONS)`. */
export const RELAY_MIGRATIONS: readonly ModuleMigrations[] = RELAY_MODULES.map((m) => ({ module: m.name, dir: m.migrations }))

export const PROJECTORS: readonly Projector[] = RELAY_MODULES.flatMap((m) => (m.projector ? [m.projector] : []))
export const INLINE_PROJECTORS: readonly Projector[] = PROJECTORS.filter((p) => p.mode === 'inline')

/** Every projection table (digest order), from the projectors. */
export const PROJECTION_TABLES = PROJECTORS.flatMap((p) => p.tables)
