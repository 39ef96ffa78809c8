/**
 * The registered domain modules (ARCHITECTURE §7). streams.ts builds the stream registry from this list
 * and chain.ts dispatches to their hooks; a new domain is a new module here, in registry order.
 */
import type { DomainModule } from './domain.js'
import { economyDomain } from './economy.js'
import { devicesDomain } from './devices.js'
import { identityDomain } from './identity.js'
import { pixbookDomain } from './pixbook.js'
import { socialDomain } from './social.js'

/** Every domain of `@pixpax/shared`, in registry order (the order of `STREAM_TYPES`). */
export const DOMAINS: readonly DomainModule[] = [identityDomain, pixbookDomain, socialDomain, economyDomain, devicesDomain]
