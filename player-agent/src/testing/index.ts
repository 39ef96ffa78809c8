/** `@pixpax/player-agent/testing`: the DeviceAdapter conformance suite. */
export { runDeviceAdapterContract, solidFrame, type DeviceAdapterHarness } from './device-adapter-contract.js'
