/**
 * `pnpm player`: the CLI entry point — the only place that exits the process. SIGTERM / SIGINT stop the
 * daemon cleanly (log flushed, sockets closed) and exit 0.
 */
import { ConfigError, loadPlayerConfig } from './config.js'
import { openDisplay, PlayerDaemon } from './daemon.js'
import { HttpDisplay } from './device/http-display.js'
import { DirectoryLockedError } from './fs/dir-lock.js'

const say = (line: string) => process.stdout.write(line + '\n')
const warn = (line: string) => process.stderr.write(`player: ${line}\n`)

async function main(): Promise<number> {
  let config
  try {
    config = loadPlayerConfig(process.env, process.argv.slice(2), process.stdout.isTTY === true)
  } catch (error) {
    if (error instanceof ConfigError) {
      warn(error.message)
      return 2
    }
    throw error
  }
  const display = openDisplay(config, process.stdout)
  // The terminal display owns stdout: protocol lines go to stderr there.
  const io = config.display === 'terminal' ? { say: warn, warn, progress: process.stderr } : { say, warn, progress: process.stderr }
  let daemon: PlayerDaemon
  try {
    daemon = await PlayerDaemon.open(config, io, display)
  } catch (error) {
    if (error instanceof DirectoryLockedError) {
      warn(error.message)
      return 3
    }
    throw error
  }
  daemon.start()
  if (display instanceof HttpDisplay) io.say(`display: ${display.url}`)
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  await daemon.stop()
  io.say('stopped')
  return 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    warn(`fatal: ${(error as Error).stack ?? String(error)}`)
    process.exit(1)
  },
)
