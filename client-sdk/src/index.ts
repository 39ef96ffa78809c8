/** @pixpax/client-sdk — skeleton; built out by its own issue. */
export {}
