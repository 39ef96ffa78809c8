import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ProjectionDb } from './projection-db.js'

/** sync-server/migrations, next to src/. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))

/** Every replica migrating at startup takes this lock, so exactly one applies each file. */
export const MIGRATION_LOCK_KEY = 'pixpax:schema_migrations'

export interface Migration {
  version: number
  name: string
  path: string
}

const FILE_NAME = /^(\d+)_([A-Za-z0-9_.-]+)\.sql$/

/** `NNN_name.sql` files in `dir`, in numeric order (so 10 follows 9). Other files are ignored. */
export async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const migrations: Migration[] = []
  for (const file of await readdir(dir)) {
    if (!file.endsWith('.sql')) continue
    const match = FILE_NAME.exec(file)
    if (!match) throw new Error(`migration file ${file} is not named NNN_name.sql`)
    migrations.push({ version: Number(match[1]), name: match[2]!, path: join(dir, file) })
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
export async function migrate(db: ProjectionDb, dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const migrations = await readMigrations(dir)
  const recorded = await db.withLock(MIGRATION_LOCK_KEY, async (tx) => {
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    )
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations')
    return new Set(rows.map((r) => r.version))
  })

  const applied: Migration[] = []
  for (const migration of migrations) {
    if (recorded.has(migration.version)) continue
    const sql = await readFile(migration.path, 'utf8')
    if (/^\s*(BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK)\s*;/im.test(sql)) {
      throw new Error(`migration ${migration.path} must not contain BEGIN/COMMIT: each file already runs in a transaction`)
    }
    const didApply = await db.withLock(MIGRATION_LOCK_KEY, async (tx) => {
      const { rowCount } = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [migration.version])
      if (rowCount > 0) return false // another process got here first
      try {
        await tx.query(sql)
      } catch (err) {
        throw new Error(`migration ${migration.version}_${migration.name} failed: ${(err as Error).message}`, {
          cause: err,
        })
      }
      await tx.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())', [
        migration.version,
        migration.name,
      ])
      return true
    })
    if (didApply) applied.push(migration)
  }
  return applied
}
