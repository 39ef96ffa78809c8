/**
 * The devices routes (docs/player.md):
 *
 * - `POST /v1/devices/pairing-code` (the device's session): a fresh 6-character code, valid 15 minutes,
 *   replacing any earlier one of that device. The session proves the device holds its key.
 * - `GET /v1/devices/self` (the device's session): whether it is paired, to which account, under what name
 *   (and, with the MQTT bridge on, its broker credentials: mqtt/device-hooks.ts).
 * - `POST /v1/devices/pair {code, name}` (an owner's session): consumes the code (single use, expiring,
 *   rate-limited per session), binds the device to the session's account (at most 128 per account) and
 *   appends the owner-signed DEVICE_PAIRED receipt, signed with the owner's custodial key when registered.
 *   The receipt's own rules (shared devices domain: the device exists, 128 per account) hold for it as for
 *   any DEVICE_PAIRED; when they refuse it the pairing is undone and the refusal is the answer.
 * - `DELETE /v1/devices/:deviceIdentityId` (an owner's session of that account): unpairs — the device loses
 *   read access to the account's streams at once; DEVICE_UNPAIRED is appended like DEVICE_PAIRED.
 * - `PATCH /v1/devices/:deviceIdentityId {name}` (an owner's session of that account): renames it (relay
 *   state, like the pairing; the DEVICE_PAIRED receipt keeps the name it was paired under).
 * - `GET /v1/devices` (an owner's session): the account's players, online (a DEVICE_STATUS in the last
 *   3 minutes) or offline, with their current artwork and capabilities.
 */
import { randomUUID } from 'node:crypto'
import {
  buildReceipt,
  deviceStreamKey,
  IdSchema,
  MAX_DEVICES_PER_ACCOUNT,
  pairingStreamKey,
  type Receipt,
  type Signer,
} from '@pixpax/shared'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { bearerToken, requireSession } from '../auth/request-session.js'
import type { Session } from '../auth/sessions.js'
import type { Queryable } from '../db/projection-db.js'
import { ApiError } from '../errors.js'
import { mqttDeviceHooks } from '../mqtt/device-hooks.js'
import { parseBody, parseParams } from '../routes/parse.js'
import { openCustodialKeys, type CustodialKeys } from '../signing/custodial-keys.js'
import { issueCode, PAIRING_CODE_ALPHABET, PAIRING_CODE_LENGTH, PAIRING_CODE_TTL_MS, pairingCodeHash } from './pairing-codes.js'

/** A player with no DEVICE_STATUS for this long is shown offline. */
export const DEVICE_OFFLINE_AFTER_MS = 3 * 60 * 1000
/** Pairing attempts per owner session (or address) per rate-limit window: a code cannot be guessed. */
export const PAIR_ATTEMPTS_PER_WINDOW = 10

export interface DeviceRoutesOptions {
  custodialKeys?: CustodialKeys
  now?: () => number
}

const PairBody = z.strictObject({
  code: z.string().min(1).max(32),
  name: z.string().min(1).max(100),
})
const DeviceParams = z.object({ deviceIdentityId: IdSchema })
const RenameBody = z.strictObject({ name: z.string().min(1).max(100) })

interface PairingRow {
  device_identity_id: string
  account_id: string
  owner_identity_id: string
  name: string
  paired_at: Date
  receipt_event_id: string | null
}

export async function deviceRoutes(app: FastifyInstance, options: DeviceRoutesOptions = {}): Promise<void> {
  const { db, ingestor, openapi, sha256, config } = app.relay
  const custodialKeys = options.custodialKeys ?? openCustodialKeys(config)
  const now = options.now ?? Date.now
  // MQTT bridge (optional, docs/player.md): broker accounts follow pairings; no-ops without MQTT_URL.
  const mqtt = mqttDeviceHooks(app)

  async function kindOf(identityId: string): Promise<string | undefined> {
    const rows = await db.query<{ kind: string }>('SELECT kind FROM identities WHERE identity_id = $1', [identityId])
    return rows.rows[0]?.kind
  }

  async function requireDevice(request: FastifyRequest): Promise<Session> {
    const session = await requireSession(request)
    if ((await kindOf(session.identityId)) !== 'device')
      throw new ApiError('FORBIDDEN', `identity ${session.identityId} is not of kind device`)
    return session
  }

  async function requireOwner(request: FastifyRequest): Promise<Session> {
    const session = await requireSession(request)
    if ((await kindOf(session.identityId)) === 'device') throw new ApiError('FORBIDDEN', 'a device cannot manage devices')
    return session
  }

  /** The owner's registered, unrevoked custodial signer, or undefined (then the binding stays unsigned). */
  async function custodialSigner(identityId: string): Promise<Signer | undefined> {
    const signer = await custodialKeys.get(identityId).catch(() => undefined)
    if (!signer) return undefined
    const rows = await db.query<{ revoked_position: number | null }>(
      'SELECT revoked_position FROM identity_keys WHERE identity_id = $1 AND public_key_id = $2',
      [identityId, signer.publicKeyId],
    )
    const row = rows.rows[0]
    return row && row.revoked_position === null ? signer : undefined
  }

  async function head(streamKey: string): Promise<{ eventId: string; hash: string } | null> {
    const rows = await db.query<{ head_event_id: string; head_hash: string }>(
      'SELECT head_event_id, head_hash FROM streams WHERE stream_key = $1',
      [streamKey],
    )
    const row = rows.rows[0]
    return row ? { eventId: row.head_event_id, hash: row.head_hash } : null
  }

  /** Appends an owner-signed pairing receipt; undefined when the owner has no custodial key to sign it. */
  async function appendBinding(
    owner: Session,
    deviceIdentityId: string,
    type: 'DEVICE_PAIRED' | 'DEVICE_UNPAIRED',
    payload: Record<string, unknown>,
  ): Promise<{ receipt: Receipt; ack: unknown } | undefined> {
    const signer = await custodialSigner(owner.identityId)
    if (!signer) return undefined
    const stream = { type: 'pairing', accountId: owner.accountId, deviceIdentityId }
    const key = pairingStreamKey(owner.accountId, deviceIdentityId)
    const prev = type === 'DEVICE_PAIRED' ? null : await head(key)
    if (type === 'DEVICE_UNPAIRED' && !prev) return undefined
    const receipt = await buildReceipt({
      stream,
      type,
      payload,
      identityId: owner.identityId,
      signer,
      prev,
      idempotencyKey: randomUUID(),
      sha256,
    })
    const [result] = await ingestor.ingest([receipt])
    if (!result!.ok) throw new ApiError(result!.error.code, result!.error.message, result!.error.details)
    return { receipt, ack: result!.ack }
  }

  openapi.add({
    method: 'POST',
    url: '/v1/devices/pairing-code',
    summary: "A new pairing code for the session's device (6 characters, valid 15 minutes, single use)",
    tags: ['devices'],
    auth: 'session',
    response: z.object({ code: z.string(), expiresAt: z.string() }),
  })
  app.post('/v1/devices/pairing-code', async (request) => {
    const session = await requireDevice(request)
    const paired = await db.query('SELECT 1 FROM device_pairings WHERE device_identity_id = $1', [session.identityId])
    if (paired.rowCount > 0) throw new ApiError('STREAM_RULE_VIOLATION', 'this device is already paired', { rule: 'device_already_paired' })
    const expiresAt = new Date(now() + PAIRING_CODE_TTL_MS)
    const code = await issueCode((codeHash) =>
      db.transaction(async (tx) => {
        await tx.query('DELETE FROM device_pairing_codes WHERE device_identity_id = $1 OR expires_at <= $2', [
          session.identityId,
          new Date(now()),
        ])
        const rows = await tx.query(
          `INSERT INTO device_pairing_codes (code_hash, device_identity_id, expires_at) VALUES ($1, $2, $3)
           ON CONFLICT (code_hash) DO NOTHING RETURNING code_hash`,
          [codeHash, session.identityId, expiresAt],
        )
        return rows.rowCount > 0
      }),
    )
    return { code, expiresAt: expiresAt.toISOString() }
  })

  openapi.add({
    method: 'GET',
    url: '/v1/devices/self',
    summary: "The session's device: whether it is paired, to which account, under which name",
    tags: ['devices'],
    auth: 'session',
  })
  app.get('/v1/devices/self', async (request) => {
    const session = await requireDevice(request)
    const rows = await db.query<PairingRow>('SELECT * FROM device_pairings WHERE device_identity_id = $1', [session.identityId])
    const row = rows.rows[0]
    if (!row) return { deviceIdentityId: session.identityId, paired: false }
    return {
      deviceIdentityId: session.identityId,
      paired: true,
      accountId: row.account_id,
      ownerIdentityId: row.owner_identity_id,
      name: row.name,
      pairedAt: row.paired_at.toISOString(),
      bindingEventId: row.receipt_event_id,
      ...(await mqtt.selfFields(session.identityId, row.paired_at)),
    }
  })

  openapi.add({
    method: 'POST',
    url: '/v1/devices/pair',
    summary: `Pair the device showing this code with the session's account (codes: ${PAIRING_CODE_LENGTH} of ${PAIRING_CODE_ALPHABET}; at most ${MAX_DEVICES_PER_ACCOUNT} devices per account)`,
    tags: ['devices'],
    auth: 'session',
    body: PairBody,
  })
  app.post(
    '/v1/devices/pair',
    {
      config: {
        rateLimit: {
          max: PAIR_ATTEMPTS_PER_WINDOW,
          timeWindow: config.RATE_LIMIT_WINDOW_MS,
          keyGenerator: (request: FastifyRequest) => `pair:${bearerToken(request) ?? request.ip}`,
        },
      },
    },
    async (request) => {
      const owner = await requireOwner(request)
      const body = parseBody(PairBody, request)
      const name = body.name.trim()
      if (!name) throw new ApiError('SCHEMA_INVALID', 'body: name must not be blank', { path: 'name' })
      const pairedAt = new Date(now())
      const deviceIdentityId = await db.withLock(`devices:${owner.accountId}`, async (tx: Queryable) => {
        const count = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM device_pairings WHERE account_id = $1', [
          owner.accountId,
        ])
        if (count.rows[0]!.n >= MAX_DEVICES_PER_ACCOUNT) {
          throw new ApiError('STREAM_RULE_VIOLATION', `an account has at most ${MAX_DEVICES_PER_ACCOUNT} paired devices`, {
            rule: 'device_limit',
            limit: MAX_DEVICES_PER_ACCOUNT,
          })
        }
        // DELETE … RETURNING: of two owners racing on one code exactly one gets it; a used code is gone.
        const consumed = await tx.query<{ device_identity_id: string; expires_at: Date }>(
          'DELETE FROM device_pairing_codes WHERE code_hash = $1 RETURNING device_identity_id, expires_at',
          [pairingCodeHash(body.code)],
        )
        const code = consumed.rows[0]
        if (!code || code.expires_at.getTime() <= pairedAt.getTime()) {
          throw new ApiError('NOT_FOUND', 'no such pairing code: it is mistyped, expired or already used', {
            reason: 'PAIRING_CODE_INVALID',
          })
        }
        const inserted = await tx.query(
          `INSERT INTO device_pairings (device_identity_id, account_id, owner_identity_id, name, paired_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_identity_id) DO NOTHING`,
          [code.device_identity_id, owner.accountId, owner.identityId, name, pairedAt],
        )
        if (inserted.rowCount === 0)
          throw new ApiError('STREAM_RULE_VIOLATION', 'this device is already paired', { rule: 'device_already_paired' })
        return code.device_identity_id
      })
      let binding: Awaited<ReturnType<typeof appendBinding>>
      try {
        binding = await appendBinding(owner, deviceIdentityId, 'DEVICE_PAIRED', { name })
      } catch (error) {
        // The receipt rules refused the binding (e.g. the account holds 128 receipt-bound devices paired
        // by direct receipts): no pairing without its receipt, so the relay state is rolled back.
        await db.query('DELETE FROM device_pairings WHERE device_identity_id = $1 AND receipt_event_id IS NULL', [deviceIdentityId])
        throw error
      }
      if (binding)
        await db.query('UPDATE device_pairings SET receipt_event_id = $2 WHERE device_identity_id = $1', [
          deviceIdentityId,
          binding.receipt.eventId,
        ])
      await mqtt.paired(deviceIdentityId, pairedAt)
      return {
        deviceIdentityId,
        accountId: owner.accountId,
        ownerIdentityId: owner.identityId,
        name,
        pairedAt: pairedAt.toISOString(),
        stream: pairingStreamKey(owner.accountId, deviceIdentityId),
        binding: binding ?? null,
      }
    },
  )

  openapi.add({
    method: 'DELETE',
    url: '/v1/devices/:deviceIdentityId',
    summary: "Unpair a device of the session's account: its access to the account ends at once",
    tags: ['devices'],
    auth: 'session',
  })
  app.delete('/v1/devices/:deviceIdentityId', async (request) => {
    const owner = await requireOwner(request)
    const { deviceIdentityId } = parseParams(DeviceParams, request)
    const removed = await db.query<PairingRow>(
      'DELETE FROM device_pairings WHERE device_identity_id = $1 AND account_id = $2 RETURNING *',
      [deviceIdentityId, owner.accountId],
    )
    if (removed.rowCount === 0) throw new ApiError('NOT_FOUND', `device ${deviceIdentityId} is not paired with account ${owner.accountId}`)
    const binding = await appendBinding(owner, deviceIdentityId, 'DEVICE_UNPAIRED', {})
    await mqtt.unpaired(deviceIdentityId)
    return { deviceIdentityId, unpaired: true, binding: binding ?? null }
  })

  openapi.add({
    method: 'PATCH',
    url: '/v1/devices/:deviceIdentityId',
    summary: "Rename a device of the session's account",
    tags: ['devices'],
    auth: 'session',
    body: RenameBody,
  })
  app.patch('/v1/devices/:deviceIdentityId', async (request) => {
    const owner = await requireOwner(request)
    const { deviceIdentityId } = parseParams(DeviceParams, request)
    const name = parseBody(RenameBody, request).name.trim()
    if (!name) throw new ApiError('SCHEMA_INVALID', 'body: name must not be blank', { path: 'name' })
    const renamed = await db.query('UPDATE device_pairings SET name = $3 WHERE device_identity_id = $1 AND account_id = $2', [
      deviceIdentityId,
      owner.accountId,
      name,
    ])
    if (renamed.rowCount === 0) throw new ApiError('NOT_FOUND', `device ${deviceIdentityId} is not paired with account ${owner.accountId}`)
    return { deviceIdentityId, name }
  })

  openapi.add({
    method: 'GET',
    url: '/v1/devices',
    summary: "The session account's devices: online or offline (no status for 3 minutes), current artwork, capabilities",
    tags: ['devices'],
    auth: 'session',
  })
  app.get('/v1/devices', async (request) => {
    const owner = await requireOwner(request)
    const rows = await db.query<
      PairingRow & {
        capabilities: unknown
        state: string | null
        artwork: string | null
        status: unknown
        reported_at: string | null
        views: number
      }
    >(
      // views: the device's total from the device-views module (devices/views/), by its primary key.
      `SELECT p.*, s.capabilities, s.state, s.artwork, s.status, s.reported_at,
              (SELECT count(*)::int FROM device_views v WHERE v.device_identity_id = p.device_identity_id) AS views
         FROM device_pairings p LEFT JOIN device_status s USING (device_identity_id)
        WHERE p.account_id = $1 ORDER BY p.paired_at, p.device_identity_id`,
      [owner.accountId],
    )
    const t = now()
    return {
      accountId: owner.accountId,
      devices: rows.rows.map((r) => {
        const lastSeen = r.reported_at ? Date.parse(r.reported_at) : undefined
        return {
          deviceIdentityId: r.device_identity_id,
          name: r.name,
          pairedAt: r.paired_at.toISOString(),
          stream: deviceStreamKey(r.device_identity_id),
          online: lastSeen !== undefined && t - lastSeen < DEVICE_OFFLINE_AFTER_MS && r.status !== null,
          lastSeenAt: r.reported_at,
          state: r.state,
          artwork: r.artwork,
          capabilities: r.capabilities ?? null,
          status: r.status ?? null,
          views: r.views,
        }
      }),
    }
  })
}
