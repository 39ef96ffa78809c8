#!/usr/bin/env node
/**
 * pixpax — make and check PixPax receipts from a shell.
 *
 *   pixpax keygen [--out FILE]
 *   pixpax identity --key K --account A [--name N] [--kind person|device|issuer|moderator] [--id ID] [--file F]
 *   pixpax sign --key K --identity ID --stream KEY --type T [--file F] [--idempotency-key X]   (payload JSON on stdin)
 *   pixpax verify FILE… [--issuer ID]… [--moderator ID]… [--backend node|webcrypto|noble]
 *   pixpax verify --log BUNDLE [--relay-key-id ID] [--issuer ID]… [--moderator ID]…   (an offline proof bundle)
 *   pixpax verify-drop EXPORT [--drop ID]… [--issuer ID]…   (a whole log in log order: recompute every pack)
 *
 * Exit codes: 0 ok, 1 verification found bad receipts, 2 usage or I/O error.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { runIdentity, runKeygen, runSign } from './author.js'
import { runVerify } from './verify.js'
import { runVerifyBundle } from './verify-bundle.js'
import { runVerifyDrop } from './verify-drop.js'
import { CliError } from './cli-error.js'

const USAGE = `usage:
  pixpax keygen [--out FILE]
  pixpax identity --key FILE --account ID [--name NAME] [--kind person|device|issuer|moderator] [--id ID] [--file STREAM.ndjson]
  pixpax sign --key FILE --identity ID --stream KEY --type TYPE [--file STREAM.ndjson] [--idempotency-key KEY]  < payload.json
  pixpax verify FILE... [--issuer ID]... [--moderator ID]... [--backend node|webcrypto|noble]
  pixpax verify --log BUNDLE [--relay-key-id ID] [--issuer ID]... [--moderator ID]... [--backend ...]
  pixpax verify-drop EXPORT [--drop ID]... [--issuer ID]...
`

/**
 * parseArgs, except that an option taking a value always takes the next argument as it: a key id or an
 * identity id may start with `-` (base64url), and `--relay-key-id -5uD…` must not read as a flag.
 */
function parseCliArgs<T extends Omit<ParseArgsConfig, 'args'>>(args: string[], config: T) {
  const options = config.options ?? {}
  const joined: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined
    if (name && options[name]?.type === 'string' && i + 1 < args.length) joined.push(`${arg}=${args[++i]!}`)
    else joined.push(arg)
  }
  return parseArgs({ ...config, args: joined })
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'keygen': {
      const { values } = parseCliArgs(rest, { options: { out: { type: 'string' } }, strict: true })
      return runKeygen(values)
    }
    case 'identity': {
      const { values } = parseCliArgs(rest, {
        options: {
          key: { type: 'string' },
          account: { type: 'string' },
          name: { type: 'string' },
          kind: { type: 'string' },
          id: { type: 'string' },
          file: { type: 'string' },
        },
        strict: true,
      })
      return runIdentity(values)
    }
    case 'sign': {
      const { values } = parseCliArgs(rest, {
        options: {
          key: { type: 'string' },
          identity: { type: 'string' },
          stream: { type: 'string' },
          type: { type: 'string' },
          file: { type: 'string' },
          'idempotency-key': { type: 'string' },
        },
        strict: true,
      })
      return runSign(values)
    }
    case 'verify': {
      const { values, positionals } = parseCliArgs(rest, {
        options: {
          issuer: { type: 'string', multiple: true },
          moderator: { type: 'string', multiple: true },
          backend: { type: 'string' },
          log: { type: 'boolean' },
          'relay-key-id': { type: 'string' },
        },
        allowPositionals: true,
        strict: true,
      })
      if (values.log) return runVerifyBundle(positionals, values)
      if (values['relay-key-id'] !== undefined) throw new CliError('--relay-key-id applies to proof bundles: use it with --log')
      return runVerify(positionals, values)
    }
    case 'verify-drop': {
      const { values, positionals } = parseCliArgs(rest, {
        options: { drop: { type: 'string', multiple: true }, issuer: { type: 'string', multiple: true } },
        allowPositionals: true,
        strict: true,
      })
      return runVerifyDrop(positionals, values)
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE)
      return command === undefined ? 2 : 0
    default:
      throw new CliError(`unknown command ${JSON.stringify(command)}\n${USAGE}`)
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`pixpax: ${message}\n`)
    process.exitCode = 2
  },
)
