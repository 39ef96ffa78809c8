/**
 * Receipt-core benchmark: sign/s and verify/s per backend, canonicalize+hash/s, `pixpax verify` on a
 * generated 100k-receipt export, and OpenSSL's own P-256 verify rate for comparison.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  buildReceipt,
  canonicalBytes,
  formatSignature,
  generatePrivateJwk,
  importWebCryptoPrivateKey,
  nobleSigner,
  nobleVerifier,
  receiptBody,
  sha256Ref,
  webCryptoSigner,
  webCryptoVerifier,
  type Signer,
  type SignatureVerifier,
} from '../shared/src/index.js'
import { nodeSha256, nodeSigner, nodeVerifier, VerifyPool } from '../shared/src/node/index.js'
import { generateNdjsonFile } from './generate.js'
import { fmt, rate, repoRoot } from './support.js'

/** OpenSSL's ecdsap256 verify/s, from `openssl speed`; undefined if openssl is missing. */
function opensslVerifyRate(): number | undefined {
  const run = spawnSync('openssl', ['speed', '-seconds', '2', 'ecdsap256'], { encoding: 'utf8' })
  if (run.status !== 0) return undefined
  // Last table line: " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  40000.0  12000.0"
  const line = run.stdout.split('\n').find((l) => /ecdsa \(nistp256\)/.test(l))
  const numbers = line
    ?.trim()
    .split(/\s+/)
    .map(Number)
    .filter((n) => Number.isFinite(n))
  return numbers && numbers.length >= 2 ? numbers[numbers.length - 1] : undefined
}

export async function runSharedBench(): Promise<Record<string, unknown>> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 2)
  const jwk = generatePrivateJwk()
  const data = canonicalBytes({ example: 'receipt body', n: 42, list: [1, 2, 3], text: 'x'.repeat(600) })
  const signers: Record<string, Signer> = {
    node: nodeSigner(jwk),
    webcrypto: webCryptoSigner(await importWebCryptoPrivateKey(jwk), jwk),
    noble: nobleSigner(jwk),
  }
  const verifiers: Record<string, SignatureVerifier> = { node: nodeVerifier(), webcrypto: webCryptoVerifier(), noble: nobleVerifier }
  const signature = await signers.node!.sign(data)
  const results: Record<string, unknown> = {}
  console.log('shared: per-backend rates (one core, ops/s)')
  for (const name of Object.keys(signers)) {
    const signRate = await rate(name === 'noble' ? seconds / 2 : seconds, () => signers[name]!.sign(data), name === 'noble' ? 10 : 100)
    const verifyRate = await rate(
      name === 'noble' ? seconds / 2 : seconds,
      () => verifiers[name]!.verify(signers.node!.publicKey, data, signature),
      name === 'noble' ? 10 : 100,
    )
    results[`sign_per_s_${name}`] = Math.round(signRate)
    results[`verify_per_s_${name}`] = Math.round(verifyRate)
    console.log(`  ${name.padEnd(10)} sign ${fmt(signRate).padStart(8)}   verify ${fmt(verifyRate).padStart(8)}`)
  }
  // The pool across all cores, fed in batches as pixpax verify feeds it.
  const pool = new VerifyPool()
  const poolStart = performance.now()
  let poolOps = 0
  while (performance.now() - poolStart < seconds * 1000) {
    await Promise.all(Array.from({ length: 2048 }, () => pool.verify(signers.node!.publicKey, data, signature)))
    poolOps += 2048
  }
  const poolRate = (poolOps * 1000) / (performance.now() - poolStart)
  await pool.close()
  results.verify_per_s_node_pool = Math.round(poolRate)
  console.log(`  node pool  verify ${fmt(poolRate)} (worker threads, all cores)`)

  const sample = await buildReceipt({
    stream: { type: 'pixbook', accountId: 'acc', bookId: 'book' },
    type: 'CARD_ADDED',
    payload: { cardId: 'card-1', artHash: 'sha256:' + 'ab'.repeat(32) },
    identityId: 'someone',
    signer: signers.node!,
    prev: null,
    sha256: nodeSha256,
  })
  const hashRate = await rate(seconds, () => sha256Ref(canonicalBytes(receiptBody(sample)), nodeSha256), 1000)
  results.canonicalize_hash_per_s = Math.round(hashRate)
  console.log(`  canonicalize+hash of a receipt: ${fmt(hashRate)}/s`)
  void formatSignature

  const openssl = opensslVerifyRate()
  results.openssl_verify_per_s = openssl
  const nodeVerify = results.verify_per_s_node as number
  if (openssl) {
    results.node_verify_vs_openssl = +(nodeVerify / openssl).toFixed(3)
    console.log(
      `  openssl speed ecdsap256 verify: ${fmt(openssl)}/s → node verify path = ${(nodeVerify / openssl).toFixed(2)}× OpenSSL (target ≥ 0.85)`,
    )
  } else {
    console.log('  openssl not found: no OpenSSL comparison')
  }

  const total = Number(process.env.BENCH_RECEIPTS ?? 100_000)
  const dir = mkdtempSync(join(tmpdir(), 'pixpax-bench-'))
  try {
    const file = join(dir, 'export.ndjson')
    await generateNdjsonFile(file, total)
    const size = statSync(file).size
    const start = performance.now()
    const out = execFileSync(process.execPath, [join(repoRoot, 'shared/bin/pixpax.mjs'), 'verify', file], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    })
    const elapsed = (performance.now() - start) / 1000
    const summary = JSON.parse(out) as { ok: boolean; receipts: number }
    if (!summary.ok || summary.receipts !== total) throw new Error(`pixpax verify did not accept the generated file: ${out.slice(0, 500)}`)
    const cliRate = total / elapsed
    results.pixpax_verify = { receipts: total, bytes: size, seconds: +elapsed.toFixed(3), receipts_per_s: Math.round(cliRate) }
    results.pixpax_verify_vs_bare_verify = +(cliRate / nodeVerify).toFixed(3)
    console.log(
      `  pixpax verify: ${fmt(total)} receipts (${(size / 1e6).toFixed(1)} MB) in ${elapsed.toFixed(2)} s = ${fmt(cliRate)}/s ` +
        `= ${(cliRate / nodeVerify).toFixed(2)}× the bare one-core node verify rate (target ≥ 0.8; process start included)`,
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return results
}
