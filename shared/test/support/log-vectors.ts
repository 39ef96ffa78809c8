/**
 * The golden acceptance-log vectors in docs/vectors/log/: a 300-entry log grown in five batches (so its
 * store holds the partial tiles of five checkpoints), every tile and entry bundle at its store path, the
 * signed checkpoints, the signing key and a set of proofs. Deterministic (fixed entries, a fixed key,
 * RFC 6979 signatures from @noble/curves), so the test rebuilds them and compares byte for byte, and
 * `node --import tsx scripts/generate-log-vectors.ts` rewrites them after a deliberate change.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import {
  base64Encode,
  bytesToHex,
  consistencyProof,
  DEFAULT_LOG_ORIGIN,
  EMPTY_TREE,
  hashAtFromTiles,
  inclusionProof,
  integrate,
  jwkThumbprint,
  keyHashHex,
  leafData,
  leafHash,
  merkleRoot,
  nobleSha256,
  nobleSigner,
  noteKeyHash,
  P256_N,
  p256SpkiDer,
  privateJwkFromSecret,
  publicJwk,
  sha256Ref,
  signCheckpoint,
  tileReaderFromStore,
  ulid,
  utf8Encode,
  verifierKeyString,
  type LogEntry,
  type PrivateJwk,
  type TreeState,
} from '../../src/index.js'
import { bytesToBigInt } from '../../src/crypto/p256.js'

/** The batches the vector log grows in: checkpoints at sizes 1, 100, 256, 257 and 300. */
export const LOG_VECTOR_BATCHES = [1, 99, 156, 1, 43] as const
export const LOG_VECTOR_SIZE = 300
export const LOG_VECTOR_ORIGIN = DEFAULT_LOG_ORIGIN

const T0 = Date.parse('2026-02-24T12:34:56.000Z')

/** The vector relay key: a published test key, like the golden receipt keys (never use it for real). */
export function logVectorKey(): PrivateJwk {
  const secret = sha256(utf8Encode('pixpax golden key relay'))
  if (bytesToBigInt(secret) >= P256_N) throw new Error('golden key out of range')
  return privateJwkFromSecret(secret)
}

/** The 300 synthetic entries: five streams taking turns, seq counting per stream, ids and hashes derived from i. */
export function logVectorEntries(): LogEntry[] {
  const streams = ['identity/alice1', 'account/acc1', 'pixbook/acc1/book1', 'pixbook/acc1/book2', 'identity/bob']
  const seqs = new Map<string, number>()
  return Array.from({ length: LOG_VECTOR_SIZE }, (_, i) => {
    const stream = streams[(i * 7 + (i >> 4)) % streams.length]!
    const seq = (seqs.get(stream) ?? 0) + 1
    seqs.set(stream, seq)
    return {
      eventId: ulid(T0 + i * 1000, (n) => sha256(utf8Encode(`pixpax log vector event ${i}`)).subarray(0, n)),
      hash: sha256Ref(utf8Encode(`pixpax log vector receipt ${i}`)),
      seq,
      stream,
    }
  })
}

export interface LogVectors {
  /** Path under docs/vectors/log/ → exact file content. */
  files: Record<string, Uint8Array | string>
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`

/** Builds every file of docs/vectors/log/. */
export async function buildLogVectors(): Promise<LogVectors> {
  const key = logVectorKey()
  const signer = nobleSigner(key)
  const entries = logVectorEntries()
  const leaves = entries.map(leafData)
  const hashes = leaves.map((d) => leafHash(nobleSha256, d))
  const files: Record<string, Uint8Array | string> = {}
  const store = new Map<string, Uint8Array>()

  let state: TreeState = EMPTY_TREE
  const checkpoints: Array<{ size: number; root: string }> = []
  for (const batch of LOG_VECTOR_BATCHES) {
    const step = integrate(nobleSha256, state, leaves.slice(state.size, state.size + batch))
    for (const o of [...step.tiles, ...step.entryBundles]) store.set(o.path, o.bytes)
    state = step.state
    const note = await signCheckpoint({ origin: LOG_VECTOR_ORIGIN, size: state.size, root: step.root }, LOG_VECTOR_ORIGIN, signer)
    files[`checkpoints/${state.size}`] = note
    files['pixpax/log/checkpoint'] = note
    checkpoints.push({ size: state.size, root: base64Encode(step.root) })
  }
  for (const [path, bytes] of store) files[path] = bytes
  files['entries.ndjson'] = leaves.map((d) => new TextDecoder().decode(d) + '\n').join('')

  const pub = publicJwk(key)
  files['relay-key.json'] = json({
    warning: 'a published test key for these vectors only: never use it to sign anything real',
    name: LOG_VECTOR_ORIGIN,
    privateJwk: key,
    publicJwk: pub,
    publicKeyId: jwkThumbprint(pub),
    spkiDer: bytesToHex(p256SpkiDer(pub)),
    keyHash: keyHashHex(noteKeyHash(pub)),
    vkey: verifierKeyString(LOG_VECTOR_ORIGIN, pub),
  })

  const hashAt = hashAtFromTiles(
    nobleSha256,
    LOG_VECTOR_SIZE,
    tileReaderFromStore((path) => Promise.resolve(store.get(path))),
  )
  const root = (size: number) => base64Encode(merkleRoot(nobleSha256, hashes.slice(0, size)))
  const inclusion = []
  for (const [index, size] of [
    [0, 1],
    [0, 100],
    [99, 100],
    [5, 256],
    [255, 256],
    [256, 257],
    [0, 300],
    [137, 300],
    [256, 300],
    [299, 300],
  ] as const) {
    inclusion.push({
      index,
      size,
      leafData: bytesToHex(leaves[index]!),
      leafHash: bytesToHex(hashes[index]!),
      root: root(size),
      hashes: (await inclusionProof(nobleSha256, index, size, hashAt)).map(base64Encode),
    })
  }
  const consistency = []
  for (const [from, to] of [
    [1, 100],
    [100, 256],
    [256, 257],
    [257, 300],
    [1, 300],
    [100, 300],
    [3, 300],
    [300, 300],
  ] as const) {
    consistency.push({
      from,
      to,
      fromRoot: root(from),
      toRoot: root(to),
      hashes: (await consistencyProof(nobleSha256, from, to, hashAt)).map(base64Encode),
    })
  }
  files['proofs.json'] = json({
    origin: LOG_VECTOR_ORIGIN,
    checkpoints,
    leafExample: { index: 0, entry: entries[0], leafData: bytesToHex(leaves[0]!), leafHash: bytesToHex(hashes[0]!) },
    inclusion,
    consistency,
  })
  files['README.md'] = README
  return { files }
}

const README = `# Acceptance-log vectors

Generated by \`node --import tsx scripts/generate-log-vectors.ts\` from
\`shared/test/support/log-vectors.ts\`; \`shared/test/log-vectors.test.ts\` rebuilds them and compares byte
for byte, then checks them independently. The format is specified in \`docs/log.md\`.

- \`entries.ndjson\`: the leaf data of the 300 entries, one per line (each line is exactly the leaf bytes).
- \`pixpax/log/…\`: the object store of a log grown in batches of 1, 99, 156, 1 and 43 entries — full tiles,
  the partial tiles and entry bundles of each of the five checkpoints, and \`pixpax/log/checkpoint\` (size 300).
- \`checkpoints/{size}\`: the signed checkpoint published at each size.
- \`relay-key.json\`: the signing key (a published test key), its SPKI, note key ID and vkey.
- \`proofs.json\`: the roots at each checkpoint, a worked leaf, inclusion and consistency proofs.
`
