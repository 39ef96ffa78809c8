import { canonicalBytes, formatSignature, type Ack, type Signer } from '@pixpax/shared'

export type { Ack }

/** Signs an ack exactly like a receipt: ECDSA P-256 over the JCS bytes of the ack without `signature`. */
export async function signAck(signer: Signer, fields: Omit<Ack, 'relayKeyId' | 'signature'>): Promise<Ack> {
  const body = { stream: fields.stream, seq: fields.seq, eventId: fields.eventId, hash: fields.hash, relayKeyId: signer.publicKeyId }
  return { ...body, signature: formatSignature(await signer.sign(canonicalBytes(body))) }
}
