import { canonicalBytes, formatSignature, type Ack, type Signer } from '@pixpax/shared'

export type { Ack }

export type AckFields = Omit<Ack, 'relayKeyId' | 'signature'>

function ackBody(signer: Signer, f: AckFields): Omit<Ack, 'signature'> {
  return { stream: f.stream, seq: f.seq, position: f.position, eventId: f.eventId, hash: f.hash, relayKeyId: signer.publicKeyId }
}

/** Signs an ack exactly like a receipt: ECDSA P-256 over the JCS bytes of the ack without `signature`. */
export async function signAck(signer: Signer, fields: AckFields): Promise<Ack> {
  const body = ackBody(signer, fields)
  return { ...body, signature: formatSignature(await signer.sign(canonicalBytes(body))) }
}

/** Signs a batch's acks, in one backend call where the signer supports it (Vault Transit batch_input). */
export async function signAcks(signer: Signer, fields: readonly AckFields[]): Promise<Ack[]> {
  const bodies = fields.map((f) => ackBody(signer, f))
  const data = bodies.map((b) => canonicalBytes(b))
  const signatures = signer.signBatch ? await signer.signBatch(data) : await Promise.all(data.map((d) => signer.sign(d)))
  return bodies.map((b, i) => ({ ...b, signature: formatSignature(signatures[i]!) }))
}
