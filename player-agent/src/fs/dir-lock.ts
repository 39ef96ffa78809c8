/**
 * One player per PLAYER_DIR: the file log keeps its index in the process, so two daemons on one
 * directory would corrupt it. `PLAYER_DIR/lock` holds the owner's pid, created exclusively; a lock whose
 * process is gone (killed with SIGKILL, power cut) is stale and taken over.
 */
import { open, readFile, unlink } from 'node:fs/promises'

export class DirectoryLockedError extends Error {
  override name = 'DirectoryLockedError'
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export async function lockDirectory(path: string): Promise<{ release(): Promise<void> }> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600)
      await fh.writeFile(`${process.pid}\n`)
      await fh.sync()
      await fh.close()
      return { release: () => unlink(path).catch(() => undefined) }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10)
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new DirectoryLockedError(`${path}: another player (pid ${pid}) uses this directory`)
      await unlink(path).catch(() => undefined)
    }
  }
  throw new DirectoryLockedError(`${path}: could not take the lock`)
}
