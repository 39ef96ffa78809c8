/**
 * The player as a child process (the real `src/main.ts` through tsx), with its stdout read line by line:
 * tests wait for the lines the daemon promises (docs/player.md), never for time.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url))
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

export interface PlayerProcess {
  child: ChildProcess
  lines: string[]
  /** Resolves with the first line (seen before or after the call, from index `from`) matching `pattern`. */
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<RegExpMatchArray>
  output(): string
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>
  /** SIGKILL (a crash or power cut). */
  kill(): Promise<void>
}

export function startPlayer(env: Record<string, string>, args: string[] = []): PlayerProcess {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
  const child = spawn(process.execPath, ['--import', tsx, MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, PLAYER_DISPLAY: 'png', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let out = ''
  let stderr = ''
  let partial = ''
  const waiters = new Set<() => void>()
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => (stderr += chunk))
  child.stdout.on('data', (chunk: string) => {
    out += chunk
    partial += chunk
    const parts = partial.split('\n')
    partial = parts.pop()!
    lines.push(...parts)
    for (const w of [...waiters]) w()
  })
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      for (const w of [...waiters]) w()
      resolve(code)
    }),
  )
  const output = () => `--- stdout\n${out}\n--- stderr\n${stderr}`
  return {
    child,
    lines,
    output,
    waitFor(pattern, from = 0, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = from; i < lines.length; i++) {
            const m = lines[i]!.match(pattern)
            if (m) {
              done()
              resolve(m)
              return
            }
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            done()
            reject(new Error(`player exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}\n${output()}`))
          }
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`player did not print ${pattern} within ${timeoutMs} ms\n${output()}`))
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill('SIGTERM')
      return exited
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
      await exited
    },
  }
}

export const playerDir = (root: string, name: string): string => join(root, name)
