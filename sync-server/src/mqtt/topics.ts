/**
 * The MQTT bridge's names (docs/player.md, "MQTT bridge"): one topic tree per device, one broker client
 * and one dynamic-security role per device. Mosquitto 2.0.11's dynsec does not substitute `%u` in ACL
 * topics, so a role shared by every device could not confine each to its own tree: each gets its own.
 */

/** Every topic of one device lives under this prefix. */
export function deviceTopicRoot(deviceIdentityId: string): string {
  return `pixpax/devices/${deviceIdentityId}`
}

/** DEVICE_COMMAND receipts for the device, the full signed JSON (QoS 1, not retained). */
export function commandsTopic(deviceIdentityId: string): string {
  return `${deviceTopicRoot(deviceIdentityId)}/commands`
}

/** "The device's channel data changed": a hint to reload, never content (QoS 1, retained). */
export function channelTopic(deviceIdentityId: string): string {
  return `${deviceTopicRoot(deviceIdentityId)}/channel`
}

/** The device's own presence (`online`, and `offline` as its will), the only topic it may publish to. */
export function presenceTopic(deviceIdentityId: string): string {
  return `${deviceTopicRoot(deviceIdentityId)}/presence`
}

/** The broker username (and fixed clientId) of a device: its identity id, unique on the relay. */
export function deviceUsername(deviceIdentityId: string): string {
  return deviceIdentityId
}

/** The dynsec role holding one device's ACLs. */
export function deviceRoleName(deviceIdentityId: string): string {
  return `pixpax-device-${deviceIdentityId}`
}

/** The role, and the broker username, of the relay's publishing client (the admin client only administers). */
export const RELAY_ROLE = 'pixpax-relay'
export const RELAY_USERNAME = 'pixpax-relay'

/** The dynamic-security plugin's control topic (and `…/response` for its answers). */
export const DYNSEC_TOPIC = '$CONTROL/dynamic-security/v1'
