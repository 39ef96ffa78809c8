import { MemoryLocalLog, runLocalLogContract } from '../src/testing.js'

runLocalLogContract('memory', async () => {
  const log = new MemoryLocalLog()
  return { log, reopen: async () => new MemoryLocalLog(log.data) }
})
