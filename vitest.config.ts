import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests share one Postgres and one s3rver per file; files isolate by schema/bucket.
    pool: 'forks',
    reporters: ['default'],
  },
})
