/**
 * An owner client independent of the player: its own identity and key, a session by signed challenge,
 * and plain fetch calls to the devices routes — what the web app will do.
 */
import { createHash } from 'node:crypto'
import { buildReceipt, type Receipt } from '@pixpax/shared'
import { nodeSha256 } from '@pixpax/shared/node'
import { PNG } from 'pngjs'
import {
  appendOk,
  http,
  identityCreated,
  newIdentity,
  openSession,
  StreamWriter,
  type HttpResult,
  type Identity,
} from '../../../sync-server/test/support/relay-harness.js'

export interface Owner {
  who: Identity
  token: string
  /** Registers the owner's custodial key (so the relay can sign the owner's pairing receipts). */
  registerCustodialKey(): Promise<void>
  pair(code: string, name: string): Promise<HttpResult<Record<string, unknown>>>
  unpair(deviceIdentityId: string): Promise<HttpResult<Record<string, unknown>>>
  devices(): Promise<HttpResult<{ devices: Array<Record<string, unknown>> }>>
  /** Uploads a blob; returns its `sha256:` hash. */
  putBlob(bytes: Uint8Array): Promise<string>
  /** Appends a social receipt to the owner's profile stream (opening it with a handle first). */
  act(type: string, payload: Record<string, unknown>): Promise<Receipt>
  /** Uploads a PNG through the media route (validated) and publishes it; returns the post and its hash. */
  publish(png: Uint8Array, title: string, hashtags?: string[]): Promise<{ postId: string; hash: string }>
}

export async function newOwner(relayUrl: string, accountId = `acct-${Math.random().toString(36).slice(2, 10)}`): Promise<Owner> {
  const who = newIdentity(accountId)
  await appendOk(relayUrl, [await identityCreated(who)])
  const token = await openSession(relayUrl, who)
  const auth = { authorization: `Bearer ${token}` }
  const json = { ...auth, 'content-type': 'application/json' }
  const profile = new StreamWriter({ type: 'profile', identityId: who.identityId })
  const act = async (type: string, payload: Record<string, unknown>): Promise<Receipt> => {
    if (!profile.head && type !== 'PROFILE_UPDATED') await act('PROFILE_UPDATED', { handle: who.identityId.slice(0, 32) })
    const receipt = await profile.build(type, payload, who)
    const [result] = await appendOk(relayUrl, [receipt])
    profile.advance(receipt, result!.seq)
    return receipt
  }
  return {
    act,
    async publish(png, title, hashtags) {
      const hex = createHash('sha256').update(png).digest('hex')
      const put = await http(`${relayUrl}/v1/media/sha256/${hex}`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'image/png' },
        body: Buffer.from(png),
      })
      if (put.status !== 201 && put.status !== 200) throw new Error(`PUT media ${put.status}: ${put.text}`)
      const info = put.json as unknown as { mime: string; width: number; height: number; frames: number }
      const media = { hash: `sha256:${hex}`, mime: info.mime, width: info.width, height: info.height, frames: info.frames }
      const post = await act('POST_PUBLISHED', { title, media, ...(hashtags ? { hashtags } : {}) })
      return { postId: post.eventId, hash: media.hash }
    },
    who,
    token,
    async registerCustodialKey() {
      const key = await http<{ publicKey: Record<string, string> }>(`${relayUrl}/v1/identities/${who.identityId}/custodial-key`, {
        headers: auth,
      })
      const identityKey = `identity/${who.identityId}`
      const head = await http<{ eventId: string; hash: string }>(`${relayUrl}/v1/streams/head?key=${encodeURIComponent(identityKey)}`)
      const receipt = await buildReceipt({
        stream: { type: 'identity', identityId: who.identityId },
        type: 'KEY_ADDED',
        payload: { publicKey: key.json.publicKey },
        identityId: who.identityId,
        signer: who.signer,
        prev: { eventId: head.json.eventId, hash: head.json.hash },
        sha256: nodeSha256,
      })
      await appendOk(relayUrl, [receipt])
    },
    pair: (code, name) => http(`${relayUrl}/v1/devices/pair`, { method: 'POST', headers: json, body: JSON.stringify({ code, name }) }),
    unpair: (id) => http(`${relayUrl}/v1/devices/${id}`, { method: 'DELETE', headers: auth }),
    devices: () => http(`${relayUrl}/v1/devices`, { headers: auth }),
    async putBlob(bytes) {
      const hex = createHash('sha256').update(bytes).digest('hex')
      const res = await http(`${relayUrl}/v1/blobs/sha256/${hex}`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/octet-stream' },
        body: Buffer.from(bytes),
      })
      if (res.status !== 201 && res.status !== 200) throw new Error(`PUT blob ${res.status}: ${res.text}`)
      return `sha256:${hex}`
    },
  }
}

/** A solid-colour PNG of `size`×`size` (distinct colours → distinct hashes). */
export function solidPng(size: number, [r, g, b]: [number, number, number]): Uint8Array {
  const png = new PNG({ width: size, height: size })
  for (let i = 0; i < size * size; i++) png.data.set([r, g, b, 255], i * 4)
  return new Uint8Array(PNG.sync.write(png))
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
