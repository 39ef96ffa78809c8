/**
 * Brings the broker's device accounts back in line with the pairings (at start and every
 * MQTT_RECONCILE_MINUTES, on the process holding the publisher lease): an account whose revocation
 * failed (the broker was down at unpairing) is deleted, and a paired device whose account is missing
 * or from another pairing gets it. A device account is a client holding its own role
 * `pixpax-device-{username}`, or such a role alone; other clients (the admin, the relay's publisher,
 * whatever else the broker serves) are never touched.
 *
 * Correct accounts are left alone — Mosquitto 2.0.11 disconnects a client whose roles or password are
 * modified, and answers "Internal error" to a role added twice — so a reconciliation with nothing to
 * repair sends no modifying command at all.
 *
 * The broker is listed before the pairings are read: a device paired in between is then seen paired
 * (and provisioned twice, which is idempotent) rather than listed on the broker and deleted.
 */
import type { Queryable } from '../db/projection-db.js'
import type { DynsecClient } from './dynsec.js'
import type { DeviceProvisioner } from './provisioner.js'
import { deviceRoleName, deviceUsername } from './topics.js'

const ROLE_PREFIX = deviceRoleName('')

export interface Reconciliation {
  /** Devices whose leftover client or role was deleted (not paired any more). */
  revoked: string[]
  /** Paired devices whose account was missing or stale, and was made. */
  provisioned: string[]
}

export interface ReconcilerDeps {
  db: Queryable
  dynsec: DynsecClient
  provisioner: DeviceProvisioner
  /** The password of a pairing (credentials.ts). */
  passwordOf(deviceIdentityId: string, pairedAt: Date): string
}

/** The textname a device's client carries for its pairing (provisioner.ts `version`). */
export function pairingVersion(pairedAt: Date): string {
  return `paired ${pairedAt.toISOString()}`
}

export async function reconcileDeviceAccounts(deps: ReconcilerDeps): Promise<Reconciliation> {
  const { db, dynsec, provisioner } = deps
  const clients = await dynsec.listClients()
  const roles = new Set(await dynsec.listRoles())
  const { rows } = await db.query<{ device_identity_id: string; paired_at: Date }>(
    'SELECT device_identity_id, paired_at FROM device_pairings',
  )
  const paired = new Map(rows.map((r) => [r.device_identity_id, r.paired_at]))

  // Device ids the broker has an account (client or role) for.
  const onBroker = new Set<string>()
  for (const role of roles)
    if (role.startsWith(ROLE_PREFIX) && role.length > ROLE_PREFIX.length) onBroker.add(role.slice(ROLE_PREFIX.length))
  const clientOf = new Map(clients.map((c) => [c.username, c]))
  for (const c of clients) if (c.roles?.some((r) => r.rolename === deviceRoleName(c.username))) onBroker.add(c.username)

  const revoked: string[] = []
  for (const id of onBroker) {
    if (paired.has(id)) continue
    // Read again just before: narrows the window of a pairing made since the read above to nothing
    // much (were it hit, the device's next reconciliation gives the account back).
    const still = await db.query('SELECT 1 FROM device_pairings WHERE device_identity_id = $1', [id])
    if (still.rowCount > 0) continue
    await provisioner.revoke(id)
    revoked.push(id)
  }

  const provisioned: string[] = []
  for (const [id, pairedAt] of paired) {
    const client = clientOf.get(deviceUsername(id))
    const version = pairingVersion(pairedAt)
    const correct =
      roles.has(deviceRoleName(id)) && client?.textname === version && client.roles?.some((r) => r.rolename === deviceRoleName(id))
    if (correct) continue
    await provisioner.provision(id, deps.passwordOf(id, pairedAt), version)
    provisioned.push(id)
  }
  return { revoked, provisioned }
}
