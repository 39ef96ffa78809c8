/**
 * Checkpoints and signed notes: strict tlog-checkpoint text, signature type 0x02 as transparency-dev
 * implements it — checked against real Rekor and Pixel 6 checkpoints from transparency-dev/formats
 * (test-vectors/signed-note/) — and our own sign/verify round trip with every verifier backend.
 */
import { p256 } from '@noble/curves/nist.js'
import { describe, expect, it } from 'vitest'
import {
  base64Decode,
  base64Encode,
  DEFAULT_LOG_ORIGIN,
  formatCheckpoint,
  jwkToUncompressed,
  keyHashHex,
  nobleSigner,
  nobleVerifier,
  noteKeyHash,
  p256SpkiDer,
  parseCheckpoint,
  parseSignedNote,
  parseVerifierKey,
  PixpaxError,
  privateJwkFromSecret,
  signCheckpoint,
  verifierKeyString,
  verifySignedCheckpoint,
  webCryptoVerifier,
  type Checkpoint,
  type SignatureVerifier,
} from '../src/index.js'
import { nodeSha256, nodeSigner, nodeVerifier } from '../src/node/index.js'
import { readVectorJson } from './support/vectors.js'

interface NoteVectors {
  keys: Array<{ vkey: string; name: string; keyHash: string }>
  notes: Array<{ desc: string; vkey: string; note: string; valid: boolean }>
}
const vectors = readVectorJson<NoteVectors>('test-vectors/signed-note/ecdsa-notes.json')

const utf8 = (s: string) => new TextEncoder().encode(s)
const relayKey = privateJwkFromSecret(nodeSha256(utf8('pixpax log checkpoint test key')))
const otherKey = privateJwkFromSecret(nodeSha256(utf8('pixpax log checkpoint other key')))
const origin = DEFAULT_LOG_ORIGIN
const key = { name: origin, publicKey: { kty: relayKey.kty, crv: relayKey.crv, x: relayKey.x, y: relayKey.y } }
const checkpoint: Checkpoint = { origin, size: 300, root: nodeSha256(utf8('a root')) }

async function rejection(promise: Promise<unknown>): Promise<PixpaxError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(PixpaxError)
    return error as PixpaxError
  }
  throw new Error('expected a rejection')
}

describe('checkpoint text (C2SP tlog-checkpoint)', () => {
  it('is origin, decimal size and base64 root, each newline-terminated', () => {
    const text = formatCheckpoint(checkpoint)
    expect(text).toBe(`pixpax.local/log\n300\n${base64Encode(checkpoint.root)}\n`)
    const parsed = parseCheckpoint(text)
    expect({ ...parsed, root: base64Encode(parsed.root) }).toEqual({ origin, size: 300, root: base64Encode(checkpoint.root) })
    expect(parseCheckpoint(formatCheckpoint({ origin, size: 0, root: nodeSha256(new Uint8Array(0)) })).size).toBe(0)
  })

  it('parses strictly', () => {
    const root = base64Encode(checkpoint.root)
    for (const bad of [
      `${origin}\n300\n${root}`, // no final newline
      `${origin}\n300\n${root}\n\n`,
      `${origin}\n300\n${root}\nextension\n`, // PixPax checkpoints carry no extension lines
      `\n300\n${root}\n`,
      `pixpax local\n300\n${root}\n`,
      `pixpax+local\n300\n${root}\n`,
      `${origin}\n0300\n${root}\n`,
      `${origin}\n+300\n${root}\n`,
      `${origin}\n-1\n${root}\n`,
      `${origin}\n3e2\n${root}\n`,
      `${origin}\n9007199254740992\n${root}\n`,
      `${origin}\n300\n${root.slice(0, -1)}\n`,
      `${origin}\n300\n${base64Encode(checkpoint.root.subarray(0, 31))}\n`,
      `${origin}\n300\n${root.replace(/=$/, '')}\n`,
      `${origin}\r\n300\r\n${root}\r\n`,
    ]) {
      let error: unknown
      try {
        parseCheckpoint(bad)
      } catch (e) {
        error = e
      }
      expect(error, JSON.stringify(bad)).toMatchObject({ code: 'LOG_INCONSISTENT', details: { reason: 'malformed-checkpoint' } })
    }
    expect(() => formatCheckpoint({ ...checkpoint, origin: 'a b' })).toThrow(RangeError)
    expect(() => formatCheckpoint({ ...checkpoint, size: 1.5 })).toThrow(RangeError)
    expect(() => formatCheckpoint({ ...checkpoint, root: new Uint8Array(31) })).toThrow(RangeError)
  })
})

describe('note keys for signature type 0x02 (transparency-dev/formats)', () => {
  it('the key hash is SHA-256 of the SPKI DER, truncated; the vkey carries 0x02 ‖ SPKI', () => {
    for (const v of vectors.keys) {
      const parsed = parseVerifierKey(v.vkey)
      expect(parsed.name).toBe(v.name)
      expect(keyHashHex(parsed.keyHash)).toBe(v.keyHash)
      expect(keyHashHex(noteKeyHash(parsed.publicKey))).toBe(v.keyHash)
      expect(verifierKeyString(v.name, parsed.publicKey)).toBe(v.vkey)
      const material = base64Decode(v.vkey.split('+').slice(2).join('+'))!
      expect(Buffer.from(material.subarray(1)).equals(p256SpkiDer(parsed.publicKey))).toBe(true)
    }
  })

  it('is stable for the relay key (and does not depend on the name)', () => {
    const spki = p256SpkiDer(key.publicKey)
    expect(spki).toHaveLength(91)
    expect(Buffer.from(spki.subarray(0, 26)).toString('hex')).toBe('3059301306072a8648ce3d020106082a8648ce3d030107034200')
    const expected = Buffer.from(nodeSha256(spki).subarray(0, 4)).toString('hex')
    expect(keyHashHex(noteKeyHash(key.publicKey))).toBe(expected)
    expect(expected).toBe('f50e8ade') // pinned: a change here breaks every configured witness
    expect(verifierKeyString(origin, key.publicKey)).toBe(
      'pixpax.local/log+f50e8ade+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABLhYGPWIs9KG5XU49yvKssMm9Xv2gdzqeE9315XBYgNWyuLYU0DkUOg+8iSlDDe4CvTranqAIaElgM3NbVNhzzk=',
    )
    const vkey = verifierKeyString(origin, key.publicKey)
    expect(vkey.startsWith(`pixpax.local/log+${expected}+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IAB`)).toBe(true)
    expect(verifierKeyString('other.example/log', key.publicKey).split('+')[1]).toBe(expected)
    expect(parseVerifierKey(vkey)).toEqual({ name: origin, keyHash: noteKeyHash(key.publicKey), publicKey: key.publicKey })
  })

  it('parseVerifierKey refuses a wrong hash, another type or a point off the curve', () => {
    const vkey = verifierKeyString(origin, key.publicKey)
    const [name, hash, material] = [vkey.split('+')[0]!, vkey.split('+')[1]!, vkey.split('+').slice(2).join('+')]
    const bytes = base64Decode(material)!
    const withType = Uint8Array.from(bytes)
    withType[0] = 0x01
    const offCurve = Uint8Array.from(bytes)
    offCurve[91] = offCurve[91]! ^ 1
    for (const bad of [
      `${name}+00000000+${material}`,
      `${name}+${hash.toUpperCase()}+${material}`,
      `${name}+${hash}+${base64Encode(withType)}`,
      `${name}+${hash}+${base64Encode(offCurve)}`,
      `${name}+${hash}`,
      `bad name+${hash}+${material}`,
    ]) {
      expect(() => parseVerifierKey(bad), bad).toThrow(PixpaxError)
    }
  })
})

describe('verifying real ECDSA checkpoints (Rekor, Pixel 6)', () => {
  for (const v of vectors.notes) {
    it(`${v.desc}: ${v.valid ? 'verifies' : 'is refused'}`, async () => {
      const { name, publicKey } = parseVerifierKey(v.vkey)
      const origin = v.note.split('\n')[0]!
      const result = verifySignedCheckpoint(v.note, { name, publicKey }, nodeVerifier(), { origin })
      if (v.valid) {
        const cp = await result
        expect(cp.origin).toBe(origin)
        expect(cp.size).toBe(Number(v.note.split('\n')[1]))
      } else {
        expect((await rejection(result)).code).toBe('LOG_INCONSISTENT')
      }
    })
  }
})

describe('signing and verifying PixPax checkpoints', () => {
  const backends: SignatureVerifier[] = [nodeVerifier(), webCryptoVerifier(), nobleVerifier]

  it('signs a signed note: the body, a blank line, one type-0x02 line with a DER low-S signature', async () => {
    const note = await signCheckpoint(checkpoint, origin, nodeSigner(relayKey))
    const body = formatCheckpoint(checkpoint)
    expect(note.startsWith(`${body}\n— ${origin} `)).toBe(true)
    expect(note.endsWith('\n')).toBe(true)
    const { text, signatures } = parseSignedNote(note)
    expect(text).toBe(body)
    expect(signatures).toHaveLength(1)
    expect(signatures[0]!.keyHash).toBe(noteKeyHash(key.publicKey))
    const der = signatures[0]!.signature
    expect(der[0]).toBe(0x30)
    const sig = p256.Signature.fromBytes(der, 'der')
    expect(sig.hasHighS()).toBe(false)
    // Plain ECDSA over SHA-256(body), DER-encoded: what Go's ecdsa.VerifyASN1 checks in transparency-dev/formats.
    expect(p256.verify(der, utf8(body), jwkToUncompressed(key.publicKey), { format: 'der', prehash: true })).toBe(true)
  })

  it('is deterministic with the RFC 6979 signer', async () => {
    const a = await signCheckpoint(checkpoint, origin, nobleSigner(relayKey))
    expect(await signCheckpoint(checkpoint, origin, nobleSigner(relayKey))).toBe(a)
  })

  for (const verifier of backends) {
    it(`round-trips with the ${verifier.name} verifier`, async () => {
      for (const signer of [nodeSigner(relayKey), nobleSigner(relayKey)]) {
        const note = await signCheckpoint(checkpoint, origin, signer)
        const cp = await verifySignedCheckpoint(note, key, verifier)
        expect({ ...cp, root: base64Encode(cp.root) }).toEqual({ origin, size: 300, root: base64Encode(checkpoint.root) })
      }
    })
  }

  it('refuses every tampering', async () => {
    const note = await signCheckpoint(checkpoint, origin, nobleSigner(relayKey))
    const verifier = nodeVerifier()
    const line = note.slice(note.lastIndexOf('\n\n') + 2)
    const body = formatCheckpoint(checkpoint)
    const sig = base64Decode(line.split(' ')[2]!.trimEnd())!
    const flipped = Uint8Array.from(sig)
    flipped[sig.length - 1] = flipped[sig.length - 1]! ^ 1
    const otherNote = await signCheckpoint(checkpoint, origin, nobleSigner(otherKey))
    const cases: Array<[string, string, string]> = [
      ['size', note.replace('\n300\n', '\n301\n'), 'bad-signature'],
      ['root', note.replace(base64Encode(checkpoint.root), base64Encode(nodeSha256(utf8('b')))), 'bad-signature'],
      ['signature bit', `${body}\n— ${origin} ${base64Encode(flipped)}\n`, 'bad-signature'],
      [
        'signature not DER',
        `${body}\n— ${origin} ${base64Encode(Uint8Array.of(...sig.subarray(0, 4), ...new Uint8Array(64).fill(1)))}\n`,
        'bad-signature',
      ],
      ['a second, bad signature by the same key', `${note}— ${origin} ${base64Encode(flipped)}\n`, 'bad-signature'],
      ['signed by another key', otherNote, 'no-trusted-signature'],
      ['signed under another name', note.replace(`— ${origin} `, '— other.example/log '), 'no-trusted-signature'],
      ['no signature', `${body}\n`, 'malformed-note'],
      ['no blank line', body + line, 'malformed-note'],
      ['no final newline', note.slice(0, -1), 'malformed-note'],
      ['hyphen for em dash', note.replace('— ', '- '), 'malformed-note'],
      ['two spaces', note.replace(`— ${origin} `, `— ${origin}  `), 'malformed-note'],
      ['CR', note.replace('\n300\n', '\r\n300\n'), 'malformed-note'],
      ['tab', note.replace('\n300\n', '\n300\t\n'), 'malformed-note'],
      ['short signature', `${body}\n— ${origin} ${base64Encode(sig.subarray(0, 4))}\n`, 'malformed-note'],
      ['unpadded base64', `${body}\n— ${origin} ${base64Encode(sig).replace(/=+$/, '')}\n`, 'malformed-note'],
    ]
    for (const [what, bad, reason] of cases) {
      const error = await rejection(verifySignedCheckpoint(bad, key, verifier))
      expect({ what, code: error.code, reason: error.details?.reason }).toEqual({ what, code: 'LOG_INCONSISTENT', reason })
    }
  })

  it('checks the origin: by default it must equal the key name', async () => {
    const foreign = await signCheckpoint({ ...checkpoint, origin: 'elsewhere.example/log' }, origin, nobleSigner(relayKey))
    expect((await rejection(verifySignedCheckpoint(foreign, key, nodeVerifier()))).details?.reason).toBe('wrong-origin')
    expect((await verifySignedCheckpoint(foreign, key, nodeVerifier(), { origin: 'elsewhere.example/log' })).origin).toBe(
      'elsewhere.example/log',
    )
  })

  it('ignores signatures by unknown keys (cosignatures), before or after the relay’s', async () => {
    const note = await signCheckpoint(checkpoint, origin, nobleSigner(relayKey))
    const body = formatCheckpoint(checkpoint)
    const mine = note.slice(body.length + 1)
    const witness = (await signCheckpoint(checkpoint, 'witness.example/w1', nobleSigner(otherKey))).slice(body.length + 1)
    // Same name as the relay, another key (so another key ID): unknown, ignored.
    const sameName = (await signCheckpoint(checkpoint, origin, nobleSigner(otherKey))).slice(body.length + 1)
    const garbage = `— ${origin} ${base64Encode(Uint8Array.of(1, 2, 3, 4, 5, 6))}\n`
    for (const sigs of [witness + mine, mine + witness, sameName + mine + garbage, witness + garbage + mine]) {
      expect((await verifySignedCheckpoint(`${body}\n${sigs}`, key, nodeVerifier())).size).toBe(300)
    }
    const tooMany = `${body}\n${mine}${witness.repeat(100)}`
    expect((await rejection(verifySignedCheckpoint(tooMany, key, nodeVerifier()))).details?.reason).toBe('malformed-note')
  })
})
