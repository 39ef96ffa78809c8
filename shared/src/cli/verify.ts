import { createReadStream } from 'node:fs'
import { availableParallelism } from 'node:os'
import { open } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import {
  ChainVerifier,
  MAX_RECEIPT_TEXT,
  nobleVerifier,
  SupplyCheck,
  utf8DecodeStrict,
  webCryptoVerifier,
  type PreparedReceipt,
  type SignatureVerifier,
} from '../index.js'
import { nodeSha256, nodeVerifier } from '../node/node-crypto.js'
import { VerifyPool } from '../node/verify-pool.js'
import { readLines } from '../node/lines.js'
import { CliError } from './cli-error.js'

/** At most this many errors are listed; `errorCount` still counts them all. */
export const MAX_LISTED_ERRORS = 1000
/** Receipts prepared (signature verification started) ahead of the one being committed. */
export const LOOKAHEAD = 4096

export interface VerifyError {
  file?: string
  line: number
  eventId?: string
  code: string
  /** `details.reason` of a LOG_INCONSISTENT error (which check failed). */
  reason?: string
  message: string
}

export function backend(name: string | undefined): SignatureVerifier & { close?: () => Promise<void> } {
  switch (name ?? 'node') {
    case 'node':
      // Worker threads when there is more than one core to spread verification over.
      return availableParallelism() > 1 ? new VerifyPool() : nodeVerifier()
    case 'node-sync':
      return nodeVerifier()
    case 'webcrypto':
      return webCryptoVerifier()
    case 'noble':
      return nobleVerifier
    default:
      throw new CliError(`--backend must be node, node-sync, webcrypto or noble (got ${name})`)
  }
}

/** Opens every input before verifying anything, so a missing file is exit 2, not a half-done run. */
export async function openInputs(files: string[]): Promise<Array<{ name: string; stream: () => Readable }>> {
  if (files.length === 0) throw new CliError('verify needs at least one FILE (use - for stdin)')
  const inputs = []
  for (const name of files) {
    if (name === '-') {
      inputs.push({ name, stream: () => process.stdin })
      continue
    }
    const handle = await open(name, 'r').catch((e: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read ${name}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`)
    })
    const stat = await handle.stat()
    if (stat.isDirectory()) {
      await handle.close()
      throw new CliError(`cannot read ${name}: is a directory`)
    }
    inputs.push({ name, stream: () => createReadStream('', { fd: handle, highWaterMark: 1 << 20 }) })
  }
  return inputs
}

export async function runVerify(
  files: string[],
  options: { issuer?: string[] | undefined; moderator?: string[] | undefined; backend?: string | undefined },
): Promise<number> {
  const signatureVerifier = backend(options.backend)
  const verifier = new ChainVerifier({
    verifier: signatureVerifier,
    sha256: nodeSha256,
    ...(options.issuer ? { platformIssuers: new Set(options.issuer) } : {}),
    ...(options.moderator ? { moderators: new Set(options.moderator) } : {}),
  })
  const inputs = await openInputs(files)
  const errors: VerifyError[] = []
  let errorCount = 0
  const report = (error: VerifyError): void => {
    errorCount++
    if (errors.length < MAX_LISTED_ERRORS) errors.push(error)
  }
  // Supply conservation over the accepted receipts (economy/supply-check.ts): exact on a whole log.
  const supply = new SupplyCheck()
  const pending: Array<{ file: string; line: number; prepared: PreparedReceipt }> = []
  const commitOldest = async (): Promise<void> => {
    const { file, line, prepared } = pending.shift()!
    const verdict = await verifier.commit(prepared)
    if (!verdict.ok) {
      report({ file, line, ...(verdict.eventId ? { eventId: verdict.eventId } : {}), code: verdict.code, message: verdict.message })
    } else supply.add(prepared.checked!.receipt)
  }
  try {
    for (const input of inputs) {
      try {
        for await (const line of readLines(input.stream(), MAX_RECEIPT_TEXT)) {
          if (!line.bytes) {
            report({
              file: input.name,
              line: line.number,
              code: 'RECEIPT_TOO_LARGE',
              message: `line is ${line.length} bytes; no receipt can be that long`,
            })
            continue
          }
          let text: string
          try {
            text = utf8DecodeStrict(line.bytes)
          } catch {
            report({ file: input.name, line: line.number, code: 'JSON_INVALID', message: 'line is not valid UTF-8' })
            continue
          }
          if (text.trim() === '') continue
          pending.push({ file: input.name, line: line.number, prepared: verifier.prepare(text) })
          if (pending.length > LOOKAHEAD) await commitOldest()
        }
      } catch (e) {
        throw new CliError(`cannot read ${input.name}: ${(e as Error).message}`)
      }
    }
    while (pending.length > 0) await commitOldest()
  } finally {
    await signatureVerifier.close?.()
  }
  // Line-level errors are reported as read, receipt errors as committed: list them in input order.
  const fileOrder = new Map(files.map((f, i) => [f, i]))
  errors.sort((a, b) => (fileOrder.get(a.file ?? '') ?? 0) - (fileOrder.get(b.file ?? '') ?? 0) || a.line - b.line)
  // `supply` is reported when the input has cards of a collection (issued = held + burned, ≤ supply).
  const tally = supply.report()
  const summary = { ...verifier.summary(), ...(supply.hasCards() ? { supply: tally } : {}) }
  if (errorCount === 0 && tally.ok) {
    process.stdout.write(JSON.stringify({ ok: true, ...summary }) + '\n')
    return 0
  }
  // With one input the file name is noise; with several it says which file a line is in.
  const listed = files.length > 1 ? errors : errors.map(({ file: _file, ...rest }) => rest)
  process.stdout.write(JSON.stringify({ ok: false, errors: listed, errorCount, ...summary }) + '\n')
  return 1
}
