/**
 * `pixpax verify-drop EXPORT [--drop ID]… [--issuer ID]…`: verifies a whole log exported in log order
 * (every receipt, every rule — the economy's included, as the relay decided them), then recomputes every
 * pack of each drop from the receipts (economy/verify-drop.ts): the seed against its commitment, each
 * ticket against the seed, each pack against the derivation. Exit 0 when all holds, 1 otherwise.
 */
import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { ChainVerifier, MAX_RECEIPT_TEXT, parseReceipt, utf8DecodeStrict, verifyDrop, type Receipt } from '../index.js'
import { nodeSha256, nodeVerifier } from '../node/node-crypto.js'
import { readLines } from '../node/lines.js'
import { CliError } from './cli-error.js'

export async function runVerifyDrop(
  files: string[],
  options: { drop?: string[] | undefined; issuer?: string[] | undefined },
): Promise<number> {
  if (files.length !== 1) throw new CliError('verify-drop needs exactly one EXPORT file (the whole log, in log order)')
  const file = files[0]!
  await access(file).catch(() => {
    throw new CliError(`cannot read ${file}: no such file`)
  })
  const chain = new ChainVerifier({
    verifier: nodeVerifier(),
    sha256: nodeSha256,
    crossStream: true,
    ...(options.issuer ? { platformIssuers: new Set(options.issuer) } : {}),
  })
  const accepted: Receipt[] = []
  const errors: Array<{ line: number; eventId?: string; code: string; message: string }> = []
  for await (const line of readLines(createReadStream(file), MAX_RECEIPT_TEXT)) {
    if (!line.bytes) {
      errors.push({ line: line.number, code: 'RECEIPT_TOO_LARGE', message: 'line too long' })
      continue
    }
    const text = utf8DecodeStrict(line.bytes)
    if (text.trim() === '') continue
    const verdict = await chain.add(text)
    if (verdict.ok) accepted.push(parseReceipt(text, nodeSha256).receipt)
    else
      errors.push({
        line: line.number,
        ...(verdict.eventId ? { eventId: verdict.eventId } : {}),
        code: verdict.code,
        message: verdict.message,
      })
  }
  const dropIds = options.drop ?? [...new Set(accepted.filter((r) => r.type === 'DROP_SCHEDULED').map((r) => r.stream.dropId!))]
  const drops = dropIds.map((id) => verifyDrop(accepted, id, nodeSha256))
  const ok = errors.length === 0 && drops.every((d) => d.ok)
  process.stdout.write(JSON.stringify({ ok, receipts: accepted.length, errors: errors.slice(0, 1000), drops }) + '\n')
  return ok ? 0 : 1
}
