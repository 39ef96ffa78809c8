/**
 * Read routes fail closed: until the auth plugin installs the real check, the relay's read hook refuses
 * every stream (a relay assembled without the plugin must not serve private streams to anyone).
 */
import type { FastifyRequest } from 'fastify'
import { describe, expect, it } from 'vitest'
import { denyEveryRead } from '../src/app.js'
import { ApiError } from '../src/errors.js'

describe('the default read hook', () => {
  it.each(['pixbook/acc-1/book-1', 'account/acc-1', 'identity/alice'])('refuses %s with FORBIDDEN', async (stream) => {
    const refusal = await denyEveryRead({} as FastifyRequest, stream).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(refusal).toBeInstanceOf(ApiError)
    expect(refusal).toMatchObject({ code: 'FORBIDDEN', status: 403 })
  })
})
