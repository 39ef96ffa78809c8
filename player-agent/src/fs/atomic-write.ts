/**
 * Crash-safe file replacement: write a temp file beside the target, fsync it, rename it over the target,
 * fsync the directory. After a kill -9 or a power cut the target is either the old file or the new one,
 * never a prefix; a leftover `.tmp` file is garbage that `removeTempFiles` sweeps at start-up.
 */
import { randomUUID } from 'node:crypto'
import { open, readdir, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export const TEMP_SUFFIX = '.tmp'

export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } catch (error) {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error
  } finally {
    await fh.close()
  }
}

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomUUID()}${TEMP_SUFFIX}`)
}

export async function atomicWriteFile(path: string, data: Uint8Array | string): Promise<void> {
  const temp = tempPathFor(path)
  const fh = await open(temp, 'w', 0o644)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await rename(temp, path)
  } catch (error) {
    await unlink(temp).catch(() => undefined)
    throw error
  }
  await syncDirectory(dirname(path))
}

/** Deletes the temp files a crash left in `dir`; returns how many. */
export async function removeTempFiles(dir: string): Promise<number> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw error
  }
  const temps = names.filter((n) => n.startsWith('.') && n.endsWith(TEMP_SUFFIX))
  await Promise.all(temps.map((n) => unlink(join(dir, n)).catch(() => undefined)))
  return temps.length
}
