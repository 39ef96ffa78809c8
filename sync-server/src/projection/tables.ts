/**
 * The projection tables: everything derived from receipts, listed by the projectors that own them
 * (domains/modules.ts). Relay state (acks, the log's sequencing rows, intents, sessions) is not here
 * and survives a rebuild.
 */
export { PROJECTION_TABLES } from '../domains/modules.js'
