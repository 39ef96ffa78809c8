/**
 * Countersigning the relay's checkpoint as a witness (docs/log.md §11): the client cosigns a checkpoint
 * it verified — with its own identity key, under the witness name of its identity — and hands the line
 * to the relay (`POST /v1/log/cosignatures`), which serves it with the checkpoint to everyone.
 */
import { cosignCheckpoint, isErrorCode, PixpaxError, witnessName, type Signer } from '@pixpax/shared'

export interface CosignResult {
  size: number
  witness: string
  stored: 'created' | 'exists'
}

/** Cosigns `note` (a verified signed checkpoint) and posts the cosignature; throws PixpaxError with the relay's code. */
export async function postCosignature(options: {
  relayUrl: string
  fetch?: typeof fetch | undefined
  identityId: string
  signer: Signer
  note: string
  /** Seconds since the epoch. */
  timestamp: number
}): Promise<CosignResult> {
  const line = await cosignCheckpoint(options.note, { name: witnessName(options.identityId), signer: options.signer }, options.timestamp)
  const doFetch = options.fetch ?? ((input: string, init?: RequestInit) => fetch(input, init))
  const response = await doFetch(`${options.relayUrl.replace(/\/$/, '')}/v1/log/cosignatures`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      identityId: options.identityId,
      publicKeyId: options.signer.publicKeyId,
      checkpoint: options.note,
      cosignature: line,
    }),
  })
  const body = (await response.json().catch(() => undefined)) as
    (CosignResult & { error?: { code?: string; message?: string } }) | undefined
  if (!response.ok || !body) {
    const code = body?.error?.code
    throw new PixpaxError(isErrorCode(code) ? code : 'UNAVAILABLE', body?.error?.message ?? `the relay answered ${response.status}`)
  }
  return { size: body.size, witness: body.witness, stored: body.stored }
}
