/**
 * Per-device broker accounts in Mosquitto's dynamic-security plugin: at pairing one client (username =
 * the device id) and one role whose ACLs cover that device's topic tree only; at unpairing both are
 * deleted, which also disconnects the device if it is connected (revocation). Every step is idempotent,
 * so pairing, a later `GET /v1/devices/self` and a relay restart can all provision the same device.
 */
import type { Acl, DynsecClient } from './dynsec.js'
import { deviceRoleName, deviceTopicRoot, deviceUsername, presenceTopic, RELAY_ROLE } from './topics.js'

const EXISTS = /already exists|already has/i
const MISSING = /not found/i

/** A device may read its own tree and publish its presence; nothing else (the plugin denies by default). */
export function deviceAcls(deviceIdentityId: string): Acl[] {
  const root = deviceTopicRoot(deviceIdentityId)
  return [
    { acltype: 'subscribePattern', topic: `${root}/#`, allow: true },
    { acltype: 'publishClientReceive', topic: `${root}/#`, allow: true },
    { acltype: 'publishClientSend', topic: presenceTopic(deviceIdentityId), allow: true },
  ]
}

/** The relay's publishing client may send to every device's tree, and nothing else. */
export const RELAY_ACLS: Acl[] = [{ acltype: 'publishClientSend', topic: 'pixpax/devices/#', allow: true }]

export class DeviceProvisioner {
  constructor(private readonly dynsec: DynsecClient) {}

  /**
   * A client holding exactly one role with these ACLs. `version` (kept as the client's textname) says
   * which password and role it was made with: a client already at that version is left alone, since
   * modifying a client disconnects it; one from another version (a pairing whose revocation failed) is
   * brought up to date.
   */
  async ensureClient(username: string, password: string, version: string, rolename: string, acls: Acl[]): Promise<void> {
    const roles = [{ rolename }]
    const [, created] = await this.dynsec.expect(
      [
        { command: 'createRole', rolename, acls },
        { command: 'createClient', username, password, textname: version, roles },
      ],
      [EXISTS],
    )
    if (!created!.error) return
    const existing = await this.dynsec.getClient(username)
    if (existing?.textname === version && existing.roles?.some((r) => r.rolename === rolename)) return
    await this.dynsec.expect([{ command: 'modifyClient', username, password, textname: version, roles }])
  }

  /** The relay's own publishing client (the admin client only administers: granting it a role would drop it). */
  allowRelay(username: string, password: string, version: string): Promise<void> {
    return this.ensureClient(username, password, version, RELAY_ROLE, RELAY_ACLS)
  }

  /** The device's client and role for this pairing (`pairing` names it, e.g. its time). */
  provision(deviceIdentityId: string, password: string, pairing: string): Promise<void> {
    return this.ensureClient(
      deviceUsername(deviceIdentityId),
      password,
      pairing,
      deviceRoleName(deviceIdentityId),
      deviceAcls(deviceIdentityId),
    )
  }

  /** Deletes the device's client and role: the broker disconnects it and refuses its next connect. */
  async revoke(deviceIdentityId: string): Promise<void> {
    await this.dynsec.expect(
      [
        { command: 'deleteClient', username: deviceUsername(deviceIdentityId) },
        { command: 'deleteRole', rolename: deviceRoleName(deviceIdentityId) },
      ],
      [MISSING],
    )
  }
}
