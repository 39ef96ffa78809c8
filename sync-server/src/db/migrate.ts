import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ProjectionDb } from './projection-db.js'

/** A module's migration files: `NNN_name.sql` in `dir`, versioned within the module (ARCHITECTURE §7). */
export interface ModuleMigrations {
  module: string
  dir: string
}

/** A migration directory of this package (`src/<path>/migrations/`). */
export function migrationsDir(path: string): string {
  return fileURLToPath(new URL(`../${path}/migrations/`, import.meta.url))
}

/** Every replica migrating at startup takes this lock, so exactly one applies each file. */
export const MIGRATION_LOCK_KEY = 'pixpax:schema_migrations'

export interface Migration {
  module: string
  version: number
  name: string
  path: string
}

const FILE_NAME = /^(\d+)_([A-Za-z0-9_.-]+)\.sql$/

/** `NNN_name.sql` files in `dir`, in numeric order (so 10 follows 9). Other files are ignored. */
export async function readMigrations(dir: string, module = 'main'): Promise<Migration[]> {
  const migrations: Migration[] = []
  for (const file of await readdir(dir)) {
    if (!file.endsWith('.sql')) continue
    const match = FILE_NAME.exec(file)
    if (!match) throw new Error(`migration file ${file} is not named NNN_name.sql`)
    migrations.push({ module, version: Number(match[1]), name: match[2]!, path: join(dir, file) })
  }
  migrations.sort((a, b) => a.version - b.version)
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new Error(`two migrations have version ${migrations[i]!.version} in ${dir}`)
    }
  }
  return migrations
}

/**
 * Applies the migrations in `dir` that the database has not recorded, in numeric order, each in its
 * own transaction together with its row in `schema_migrations` (so a failing file leaves no trace and
 * stops the run; the ones before it stay applied). Each transaction holds an advisory lock and
 * re-checks the record under it, so relay replicas starting together never apply a file twice.
 * Returns the migrations this call applied.
 *
 * A migration file is plain SQL, any number of statements, without BEGIN/COMMIT (it already runs in
 * a transaction; statements that cannot, like CREATE INDEX CONCURRENTLY, are not supported).
 */
export async function migrate(db: ProjectionDb, source: string | readonly ModuleMigrations[]): Promise<Migration[]> {
  const modules = typeof source === 'string' ? [{ module: 'main', dir: source }] : source
  const migrations: Migration[] = []
  for (const { module, dir } of modules) migrations.push(...(await readMigrations(dir, module)))
  const recorded = await db.withLock(MIGRATION_LOCK_KEY, async (tx) => {
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         module text NOT NULL DEFAULT 'main',
         version integer NOT NULL,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (module, version)
       )`,
    )
    const columns = await tx.query(
      "SELECT 1 FROM information_schema.columns WHERE table_name = 'schema_migrations' AND column_name = 'module' AND table_schema = current_schema()",
    )
    if (columns.rowCount === 0) {
      throw new Error(
        'this database was created by PixPax 0.1, before the acceptance log and per-module migrations: ' +
          'point the relay at a new database or DATABASE_SCHEMA (0.1 stores have no log to rebuild from)',
      )
    }
    const { rows } = await tx.query<{ module: string; version: number }>('SELECT module, version FROM schema_migrations')
    return new Set(rows.map((r) => `${r.module} ${r.version}`))
  })

  const applied: Migration[] = []
  for (const migration of migrations) {
    if (recorded.has(`${migration.module} ${migration.version}`)) continue
    const sql = await readFile(migration.path, 'utf8')
    if (/^\s*(BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK)\s*;/im.test(sql)) {
      throw new Error(`migration ${migration.path} must not contain BEGIN/COMMIT: each file already runs in a transaction`)
    }
    const didApply = await db.withLock(MIGRATION_LOCK_KEY, async (tx) => {
      const { rowCount } = await tx.query('SELECT 1 FROM schema_migrations WHERE module = $1 AND version = $2', [
        migration.module,
        migration.version,
      ])
      if (rowCount > 0) return false // another process got here first
      try {
        await tx.query(sql)
      } catch (err) {
        throw new Error(`migration ${migration.module}/${migration.version}_${migration.name} failed: ${(err as Error).message}`, {
          cause: err,
        })
      }
      await tx.query('INSERT INTO schema_migrations (module, version, name, applied_at) VALUES ($1, $2, $3, now())', [
        migration.module,
        migration.version,
        migration.name,
      ])
      return true
    })
    if (didApply) applied.push(migration)
  }
  return applied
}
