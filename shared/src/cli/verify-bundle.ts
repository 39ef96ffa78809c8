/**
 * `pixpax verify --log BUNDLE`: verifies an offline proof bundle (docs/log.md §10) with no network — every
 * receipt as `pixpax verify` does (hash, signature, chain, authority, key validity at its place in the
 * file), and besides: the checkpoint's signature under the relay key, the file being in log order
 * (positions strictly increase) and each receipt being the leaf at its position in the checkpoint's tree.
 *
 * The relay key: `--relay-key-id` pins it (the RFC 7638 thumbprint, what a client pins as
 * `relayPublicKeyId`); the bundle's key must then be that one. Without a pin the bundle's own key is used
 * and the output says `"source": "bundle"` — the bundle is then only shown to be consistent with itself.
 */
import { MAX_NOTE_LENGTH, MAX_RECEIPT_TEXT, PixpaxError, utf8DecodeStrict } from '../index.js'
import {
  ChainVerifier,
  InclusionChecker,
  isInclusionLine,
  parseInclusionLine,
  verifyBundleHeader,
  type InclusionLine,
  type PreparedReceipt,
  type VerifiedBundleHeader,
} from '../index.js'
import { nodeSha256 } from '../node/node-crypto.js'
import { readLines } from '../node/lines.js'
import { CliError } from './cli-error.js'
import { backend, LOOKAHEAD, MAX_LISTED_ERRORS, openInputs, type VerifyError } from './verify.js'

/** The header carries a signed note (≤ 64 KiB) and a JWK; receipts are capped as in `pixpax verify`. */
const MAX_LINE = Math.max(MAX_RECEIPT_TEXT, 2 * MAX_NOTE_LENGTH)

interface Pending {
  line: number
  prepared: PreparedReceipt
  proof?: { line: number; inclusion: InclusionLine | undefined }
}

export async function runVerifyBundle(
  files: string[],
  options: {
    issuer?: string[] | undefined
    moderator?: string[] | undefined
    backend?: string | undefined
    'relay-key-id'?: string | undefined
  },
): Promise<number> {
  if (files.length !== 1) throw new CliError('verify --log takes exactly one BUNDLE (use - for stdin)')
  const [input] = await openInputs(files)
  const signatureVerifier = backend(options.backend)
  const chain = new ChainVerifier({
    verifier: signatureVerifier,
    sha256: nodeSha256,
    ...(options.issuer ? { platformIssuers: new Set(options.issuer) } : {}),
    ...(options.moderator ? { moderators: new Set(options.moderator) } : {}),
  })
  const errors: VerifyError[] = []
  let errorCount = 0
  const report = (error: VerifyError): void => {
    errorCount++
    if (errors.length < MAX_LISTED_ERRORS) errors.push(error)
  }
  const reportError = (line: number, error: unknown, eventId?: string): void => {
    if (!(error instanceof PixpaxError)) throw error
    const reason = (error.details as { reason?: unknown } | undefined)?.reason
    report({
      line,
      ...(eventId ? { eventId } : {}),
      code: error.code,
      message: error.message,
      ...(typeof reason === 'string' ? { reason } : {}),
    })
  }

  let header: VerifiedBundleHeader | undefined
  let inclusion: InclusionChecker | undefined
  const pending: Pending[] = []
  const commitOldest = async (): Promise<void> => {
    const { line, prepared, proof } = pending.shift()!
    const verdict = await chain.commit(prepared)
    if (!verdict.ok) {
      report({ line, ...(verdict.eventId ? { eventId: verdict.eventId } : {}), code: verdict.code, message: verdict.message })
      return // its inclusion cannot be checked: the leaf needs the seq its chain gives it
    }
    if (!proof) {
      report({
        line,
        eventId: verdict.eventId,
        code: 'LOG_INCONSISTENT',
        reason: 'no-proof',
        message: 'no inclusion proof follows this receipt',
      })
      return
    }
    if (!proof.inclusion) return // the proof line itself was reported
    try {
      inclusion!.check(verdict, proof.inclusion)
    } catch (error) {
      reportError(proof.line, error, verdict.eventId)
    }
  }

  try {
    try {
      for await (const line of readLines(input!.stream(), MAX_LINE)) {
        if (!line.bytes) {
          report({ line: line.number, code: 'RECEIPT_TOO_LARGE', message: `line is ${line.length} bytes; no bundle line can be that long` })
          if (!header) break
          continue
        }
        let text: string
        try {
          text = utf8DecodeStrict(line.bytes)
        } catch {
          report({ line: line.number, code: 'JSON_INVALID', message: 'line is not valid UTF-8' })
          if (!header) break
          continue
        }
        if (text.trim() === '') continue
        if (!header) {
          // Nothing can be proven without a verified checkpoint: a bad header ends the run.
          try {
            header = await verifyBundleHeader(text, { verifier: signatureVerifier, pinnedKeyId: options['relay-key-id'] })
            inclusion = new InclusionChecker(nodeSha256, header.checkpoint)
          } catch (error) {
            reportError(line.number, error)
            break
          }
          continue
        }
        if (isInclusionLine(text)) {
          const owner = pending[pending.length - 1]
          let parsed: InclusionLine | undefined
          try {
            parsed = parseInclusionLine(text)
          } catch (error) {
            reportError(line.number, error)
          }
          if (!owner || owner.proof) {
            report({ line: line.number, code: 'SCHEMA_INVALID', message: 'an inclusion proof that follows no receipt' })
            continue
          }
          owner.proof = { line: line.number, inclusion: parsed }
          continue
        }
        // The receipt before this one has had its chance to get its proof line: it may be committed.
        if (pending.length > LOOKAHEAD) await commitOldest()
        pending.push({ line: line.number, prepared: chain.prepare(text) })
      }
    } catch (e) {
      if (e instanceof PixpaxError) throw e
      throw new CliError(`cannot read ${input!.name}: ${(e as Error).message}`)
    }
    if (!header && errorCount === 0) report({ line: 1, code: 'SCHEMA_INVALID', message: 'the bundle is empty: no header line' })
    if (header) while (pending.length > 0) await commitOldest()
  } finally {
    await signatureVerifier.close?.()
  }
  errors.sort((a, b) => a.line - b.line)
  const summary = chain.summary()
  const log = header && {
    origin: header.checkpoint.origin,
    size: header.checkpoint.size,
    relayKeyId: header.relay.publicKeyId,
    relayKeySource: header.relay.source,
    proven: inclusion!.count,
  }
  if (header?.relay.source === 'bundle')
    process.stderr.write(`pixpax: the relay key was taken from the bundle itself; pass --relay-key-id to check it is the relay you trust\n`)
  if (errorCount === 0) {
    process.stdout.write(JSON.stringify({ ok: true, log, ...summary }) + '\n')
    return 0
  }
  process.stdout.write(JSON.stringify({ ok: false, errors, errorCount, ...(log ? { log } : {}), ...summary }) + '\n')
  return 1
}
