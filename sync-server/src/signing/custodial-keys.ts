/**
 * Custodial keys: the keys the relay holds for people who have no local key, one per identity, used by
 * the command routes (routes/commands.ts) to sign receipts on their behalf. Same receipt format, same
 * verification: a custodial key is an ordinary key of the identity, added by a KEY_ADDED that the
 * identity signs with a key it already holds (the relay cannot add keys to anyone's identity).
 *
 * Implementations: one private JWK file per identity (custodial-key-files.ts, embedded) and one Vault
 * Transit key per identity (custodial-vault.ts, production: the relay never sees the private key).
 */
import { join } from 'node:path'
import type { Signer } from '@pixpax/shared'
import type { RelayConfig } from '../config.js'
import { FileCustodialKeys } from './custodial-key-files.js'
import { VaultCustodialKeys } from './custodial-vault.js'

export interface CustodialKeys {
  /** `key-files` or `vault-transit`. */
  readonly name: string
  /** The identity's custodial signer if its key exists; never creates one. */
  get(identityId: string): Promise<Signer | undefined>
  /** The identity's custodial signer, creating its key on first use (concurrent calls get one key). */
  getOrCreate(identityId: string): Promise<Signer>
}

/** Vault Transit when VAULT_ADDR is set (same mount and token as the relay key), else files under DATA_DIR/custodial. */
export function openCustodialKeys(config: RelayConfig): CustodialKeys {
  if (config.VAULT_ADDR) {
    return new VaultCustodialKeys({ address: config.VAULT_ADDR, token: config.VAULT_TOKEN!, mount: config.VAULT_TRANSIT_MOUNT })
  }
  return new FileCustodialKeys(join(config.DATA_DIR, 'custodial'))
}
