/**
 * Pairing codes: 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L, U/V pairs kept apart),
 * so a code read off a small screen is typed right. 31^6 ≈ 887 million codes; with attempts rate-limited
 * per session and codes living 15 minutes, guessing a live one is hopeless.
 */
import { createHash, randomInt } from 'node:crypto'

export const PAIRING_CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ'
export const PAIRING_CODE_LENGTH = 6
export const PAIRING_CODE_TTL_MS = 15 * 60 * 1000

export function newPairingCode(): string {
  let code = ''
  for (let i = 0; i < PAIRING_CODE_LENGTH; i++) code += PAIRING_CODE_ALPHABET[randomInt(PAIRING_CODE_ALPHABET.length)]
  return code
}

/** Codes are typed by people: case and spaces/dashes do not matter. */
export function normalizePairingCode(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '')
}

/** The relay stores only this, like session tokens. */
export function pairingCodeHash(code: string): string {
  return createHash('sha256').update(normalizePairingCode(code)).digest('hex')
}

/**
 * Draws codes until `store` keeps one (it answers false when the code's hash is taken — by a live code,
 * or one kept for its "used" answer — and the next draw is tried). Returns the stored code.
 */
export async function issueCode(store: (codeHash: string) => Promise<boolean>): Promise<string> {
  for (;;) {
    const code = newPairingCode()
    if (await store(pairingCodeHash(code))) return code
  }
}
