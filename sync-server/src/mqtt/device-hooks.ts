/**
 * The three points where the device routes meet the MQTT bridge, kept out of device-routes.ts: after a
 * pairing (provision the device's broker account), after an unpairing (revoke it), and the `mqtt` field
 * of `GET /v1/devices/self`. A broker that is down never fails a pairing or an unpairing: provisioning is
 * retried by the next `self`, and an unrevoked account can read only its own topics, on which the relay
 * publishes nothing once the device is unpaired.
 */
import type { FastifyInstance } from 'fastify'
import type { DeviceCredentials } from './credentials.js'

export interface MqttDeviceHooks {
  paired(deviceIdentityId: string, pairedAt: Date): Promise<void>
  unpaired(deviceIdentityId: string): Promise<void>
  /** `{mqtt: {url, username, password}}` for a paired device when the bridge is on and reachable, else `{}`. */
  selfFields(deviceIdentityId: string, pairedAt: Date): Promise<{ mqtt?: DeviceCredentials }>
}

export function mqttDeviceHooks(app: FastifyInstance): MqttDeviceHooks {
  const bridge = () => app.relay.mqtt
  return {
    async paired(deviceIdentityId, pairedAt) {
      await bridge()
        ?.provision(deviceIdentityId, pairedAt)
        .catch((error: unknown) =>
          app.log.warn({ err: error, deviceIdentityId }, 'mqtt: provisioning the device failed; retried at its next poll'),
        )
    },
    async unpaired(deviceIdentityId) {
      await bridge()
        ?.revoke(deviceIdentityId)
        .catch((error: unknown) => app.log.error({ err: error, deviceIdentityId }, 'mqtt: revoking the device failed'))
    },
    async selfFields(deviceIdentityId, pairedAt) {
      const b = bridge()
      if (!b) return {}
      try {
        return { mqtt: await b.credentials(deviceIdentityId, pairedAt) }
      } catch (error) {
        app.log.warn({ err: error, deviceIdentityId }, 'mqtt: the device has no broker account yet')
        return {}
      }
    },
  }
}
