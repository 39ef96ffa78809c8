// The fs store's name changes once a journal record is durable (fs-object-store.ts): a temp file
// written (page cache only: the journal holds the bytes), then linked (a new object: the kernel refuses
// an existing name) or renamed (a replacement) into place. Synchronous, in order. Plain JavaScript, so
// that the fs store's worker thread (fs-link-worker.mjs) runs it whatever way the process was started;
// the store runs the same code inline where there is no worker.
import { randomBytes } from 'node:crypto'
import { closeSync, linkSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'

/**
 * Applies `ops` in order and stops at the first that throws: its index and errno code come back with
 * the outcomes of the ones before it, so the caller can mend the cause (a directory removed behind the
 * store's back) and go on from there, keeping the order.
 */
export function applyLinkOps(ops) {
  const outcomes = []
  for (const op of ops) {
    try {
      outcomes.push(op.op === 'create' ? linkNew(op.path, op.bytes) : replace(op.path, op.bytes))
    } catch (error) {
      return { outcomes, failure: { code: error?.code ?? null, message: String(error?.message ?? error) } }
    }
  }
  return { outcomes }
}

/** 'created', 'exists' (an object was there), or 'conflict' (a directory of other keys is there). */
function linkNew(path, bytes) {
  const tmp = writeTemp(dirname(path), bytes)
  try {
    linkSync(tmp, path)
    return 'created'
  } catch (error) {
    if (error?.code !== 'EEXIST') throw error
    return lstatSync(path, { throwIfNoEntry: false })?.isDirectory() ? 'conflict' : 'exists'
  } finally {
    unlinkQuietly(tmp)
  }
}

/** 'replaced', or 'conflict' (a directory of other keys is there). */
function replace(path, bytes) {
  const tmp = writeTemp(dirname(path), bytes)
  try {
    renameSync(tmp, path)
    return 'replaced'
  } catch (error) {
    unlinkQuietly(tmp)
    if (error?.code === 'EISDIR' || error?.code === 'ENOTEMPTY' || error?.code === 'EEXIST') return 'conflict'
    throw error
  }
}

/** A fresh temp name in `dir` (`.tmp-…`: never a valid key segment, so never listed or read). */
export function tempPath(dir) {
  return join(dir, `.tmp-${process.pid}-${randomBytes(8).toString('hex')}`)
}

/** A temp file in `dir`, not fsync'd (the journal holds its bytes). */
function writeTemp(dir, bytes) {
  const tmp = tempPath(dir)
  const fd = openSync(tmp, 'wx', 0o644)
  try {
    for (let offset = 0; offset < bytes.length;) offset += writeSync(fd, bytes, offset, bytes.length - offset)
  } catch (error) {
    closeSync(fd)
    unlinkQuietly(tmp)
    throw error
  }
  closeSync(fd)
  return tmp
}

export function unlinkQuietly(path) {
  try {
    unlinkSync(path)
  } catch (error) {
    if (error?.code !== 'ENOENT') throw error
  }
}
