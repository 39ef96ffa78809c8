export type { ObjectStore } from './stores/object-store.js'
export type { ProjectionDb, Queryable, QueryResult } from './db/projection-db.js'
