/**
 * The stream registry: which stream types exist, how their keys are spelled, which receipt types each
 * accepts, the payload schema of each, and who may issue it. The verifier in chain.ts and the relay read
 * only this table. It is built from the domain modules (`DOMAINS`, domains/index.ts), which declare the
 * entries and their payload schemas: adding a stream or receipt type touches its domain module alone.
 */
import type { z } from 'zod'
import type { DomainModule, ReceiptRules } from './domains/domain.js'
import { DOMAINS } from './domains/index.js'
import { PixpaxError } from './errors.js'
import type { StreamRef } from './schemas.js'

/**
 * Who may issue a receipt type into a stream:
 * - `owner`: the stream's owner (the identity named in its key, or the issuer of its genesis receipt);
 * - `accountOwner`: an owner of the account the stream belongs to (account streams);
 * - `platformIssuer`: an identity of kind `issuer` (pinned by the verifier's trust settings when given);
 * - `moderator`: an identity of kind `moderator` (likewise).
 */
export type IssuerRole = 'owner' | 'accountOwner' | 'platformIssuer' | 'moderator'

export interface ReceiptTypeSpec {
  readonly payload: z.ZodType<Record<string, unknown>>
  readonly issuers: readonly IssuerRole[]
}

export interface StreamTypeSpec {
  /** The stream type, first segment of its key, e.g. `pixbook`. */
  readonly type: string
  /** Plural used in object-store paths, e.g. `pixbooks` (ARCHITECTURE §4). */
  readonly plural: string
  /** The ids that follow the type in the key, in key order. */
  readonly idFields: readonly string[]
  /**
   * How the owner is found: an id field of the key that names an identity (`identity/{identityId}`), or
   * `genesis`: whoever issued the stream's first receipt.
   */
  readonly owner: { readonly idField: string } | 'genesis'
  /** The receipt type that opens the stream (and, by default, only opens it: see `opening`). */
  readonly genesis: string
  /**
   * How a stream of this type opens: `only` (default) — the genesis type must open it and may appear
   * nowhere else (IDENTITY_CREATED); `first` — the genesis type must open it and may recur
   * (PROFILE_UPDATED); `any` — any of its receipt types may open it, none only opens it (a moderation
   * stream opens with its moderator's first act; `genesis` then only names a type for tools).
   */
  readonly opening?: 'only' | 'first' | 'any'
  readonly receipts: Readonly<Record<string, ReceiptTypeSpec>>
}

/**
 * The registry built from the domain modules: every stream type with exactly its data (key, owner,
 * genesis, receipt types with payload schema and issuers), and beside it each receipt type's hooks.
 */
function buildRegistry(domains: readonly DomainModule[]): {
  types: Record<string, StreamTypeSpec>
  rules: Map<string, ReadonlyMap<string, ReceiptRules>>
} {
  const types: Record<string, StreamTypeSpec> = {}
  const rules = new Map<string, ReadonlyMap<string, ReceiptRules>>()
  for (const domain of domains) {
    for (const { receipts: declared, ...stream } of domain.streamTypes) {
      if (Object.hasOwn(types, stream.type)) throw new Error(`stream type ${stream.type} is registered twice (domain ${domain.name})`)
      if (!Object.hasOwn(declared, stream.genesis))
        throw new Error(`stream type ${stream.type} does not declare its genesis receipt type ${stream.genesis}`)
      const receipts: Record<string, ReceiptTypeSpec> = {}
      const hooks = new Map<string, ReceiptRules>()
      for (const [type, { payload, issuers, ...receiptRules }] of Object.entries(declared)) {
        receipts[type] = { payload, issuers }
        hooks.set(type, receiptRules)
      }
      types[stream.type] = { ...stream, receipts }
      rules.set(stream.type, hooks)
    }
  }
  return { types, rules }
}

const REGISTRY = buildRegistry(DOMAINS)

/** Every stream type of every registered domain module, by type. */
export const STREAM_TYPES: Readonly<Record<string, StreamTypeSpec>> = REGISTRY.types

/** The hooks a domain module declares for a receipt type of a stream type (undefined: none known). */
export function receiptRules(spec: StreamTypeSpec, type: string): ReceiptRules | undefined {
  return REGISTRY.rules.get(spec.type)?.get(type)
}

/** Whether a receipt of `type` may be the first receipt of a stream of this type. */
export function mayOpenStream(spec: StreamTypeSpec, type: string): boolean {
  return spec.opening === 'any' ? Object.hasOwn(spec.receipts, type) : type === spec.genesis
}

/** Whether a receipt of `type` may appear only as the first receipt of a stream of this type. */
export function onlyOpensStream(spec: StreamTypeSpec, type: string): boolean {
  return (spec.opening ?? 'only') === 'only' && type === spec.genesis
}

export function streamTypeSpec(type: string): StreamTypeSpec | undefined {
  return Object.hasOwn(STREAM_TYPES, type) ? STREAM_TYPES[type] : undefined
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

/**
 * Checks a receipt's `stream` object against the registry (known type, exactly its id fields, each a
 * safe id) and returns its spec. Throws SCHEMA_INVALID.
 */
export function checkStreamRef(stream: Record<string, unknown>): StreamTypeSpec {
  const spec = typeof stream.type === 'string' ? streamTypeSpec(stream.type) : undefined
  if (!spec)
    throw new PixpaxError('SCHEMA_INVALID', `stream.type ${JSON.stringify(stream.type)} is not a known stream type`, {
      path: 'stream.type',
    })
  for (const key of Object.keys(stream)) {
    if (key !== 'type' && !spec.idFields.includes(key)) {
      throw new PixpaxError('SCHEMA_INVALID', `stream has unknown field "${key}" for type ${spec.type}`, { path: `stream.${key}` })
    }
  }
  for (const field of spec.idFields) {
    const value = stream[field]
    if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
      throw new PixpaxError('SCHEMA_INVALID', `stream.${field} must be an id matching [A-Za-z0-9_-]{1,64}`, { path: `stream.${field}` })
    }
  }
  return spec
}

/** The stream key of a stream reference: `{type}/{ids in declared order}`, e.g. `pixbook/acc/book`. */
export function streamKey(stream: StreamRef): string {
  const spec = checkStreamRef(stream)
  return [spec.type, ...spec.idFields.map((f) => stream[f]!)].join('/')
}

/** Parses a stream key back into its stream reference. Throws SCHEMA_INVALID. */
export function parseStreamKey(key: string): StreamRef {
  const [type = '', ...ids] = key.split('/')
  const spec = streamTypeSpec(type)
  if (!spec) throw new PixpaxError('SCHEMA_INVALID', `unknown stream type in key ${JSON.stringify(key)}`)
  if (ids.length !== spec.idFields.length) {
    throw new PixpaxError('SCHEMA_INVALID', `stream key for ${type} is ${[type, ...spec.idFields.map((f) => `{${f}}`)].join('/')}`)
  }
  const ref: StreamRef = { type }
  spec.idFields.forEach((field, i) => (ref[field] = ids[i]!))
  checkStreamRef(ref)
  return ref
}

/** The object-store prefix of a stream's receipts: `pixpax/{plural}/{ids…}/events/` (ARCHITECTURE §4). */
export function streamEventsPrefix(stream: StreamRef): string {
  const spec = checkStreamRef(stream)
  return `pixpax/${spec.plural}/${spec.idFields.map((f) => stream[f]!).join('/')}/events/`
}
