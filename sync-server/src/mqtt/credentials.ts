/**
 * A device's broker password, derived rather than stored: HMAC-SHA256 under the relay's device secret
 * of the device id and the time it was paired. The relay can hand it out again on every
 * `GET /v1/devices/self` without a table of secrets, and a device paired again (after an unpairing)
 * gets a new password, so credentials of the old pairing never come back to life.
 */
import { createHash, createHmac } from 'node:crypto'
import { deviceUsername } from './topics.js'

export interface DeviceCredentials {
  /** The broker URL the device connects to (may differ from the relay's own, e.g. `mqtts://` outside). */
  url: string
  username: string
  password: string
}

export function devicePassword(secret: string, deviceIdentityId: string, pairedAt: Date): string {
  return createHmac('sha256', secret).update(`pixpax-mqtt-device/v1\n${deviceIdentityId}\n${pairedAt.toISOString()}`).digest('base64url')
}

export function deviceCredentials(url: string, secret: string, deviceIdentityId: string, pairedAt: Date): DeviceCredentials {
  return { url, username: deviceUsername(deviceIdentityId), password: devicePassword(secret, deviceIdentityId, pairedAt) }
}

/** The relay publisher's password, derived the same way; its version (a short digest) tells a stale one. */
export function relayPublisherCredentials(secret: string): { password: string; version: string } {
  const password = createHmac('sha256', secret).update('pixpax-mqtt-relay/v1').digest('base64url')
  return { password, version: `pixpax relay ${createHash('sha256').update(password).digest('hex').slice(0, 16)}` }
}
