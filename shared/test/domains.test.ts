/**
 * The stream registry is built from the domain modules: each stream type comes from exactly one
 * module, in registry order, with exactly its data (the hooks stay beside it, found by `receiptRules`).
 */
import { describe, expect, it } from 'vitest'
import { DOMAINS, mayOpenStream, onlyOpensStream, STREAM_TYPES, receiptRules, streamEventsPrefix } from '../src/index.js'

describe('domain modules', () => {
  it('register every stream type once, in order', () => {
    expect(DOMAINS.map((d) => d.name)).toEqual(['identity', 'pixbook', 'social', 'economy', 'devices'])
    const declared = DOMAINS.flatMap((d) => d.streamTypes.map((s) => s.type))
    expect(Object.keys(STREAM_TYPES)).toEqual(declared)
    expect(declared).toEqual([
      'identity',
      'account',
      'pixbook',
      'profile',
      'moderation',
      'collection',
      'drop',
      'device',
      'pairing',
      'remote',
    ])
  })

  it('give STREAM_TYPES the registry data only, and the hooks through receiptRules', () => {
    for (const domain of DOMAINS) {
      for (const declared of domain.streamTypes) {
        const spec = STREAM_TYPES[declared.type]!
        expect(Object.keys(spec)).toEqual([
          'type',
          'plural',
          'idFields',
          'owner',
          'genesis',
          ...(declared.opening ? ['opening'] : []),
          'receipts',
        ])
        expect(Object.keys(spec.receipts)).toEqual(Object.keys(declared.receipts))
        for (const [type, receipt] of Object.entries(declared.receipts)) {
          expect(Object.keys(spec.receipts[type]!)).toEqual(['payload', 'issuers'])
          expect(spec.receipts[type]!.payload).toBe(receipt.payload)
          const { payload: _payload, issuers: _issuers, ...hooks } = receipt
          expect(receiptRules(spec, type)).toEqual(hooks)
        }
      }
    }
    expect(receiptRules(STREAM_TYPES.pixbook!, 'KEY_ADDED')).toBeUndefined() // hooks belong to their stream type
    expect(receiptRules(STREAM_TYPES.identity!, 'KEY_ADDED')?.check).toBeTypeOf('function')
  })

  it('keep the object-store layout of ARCHITECTURE §4', () => {
    expect(streamEventsPrefix({ type: 'identity', identityId: 'i' })).toBe('pixpax/identities/i/events/')
    expect(streamEventsPrefix({ type: 'account', accountId: 'a' })).toBe('pixpax/accounts/a/events/')
    expect(streamEventsPrefix({ type: 'pixbook', accountId: 'a', bookId: 'b' })).toBe('pixpax/pixbooks/a/b/events/')
    expect(streamEventsPrefix({ type: 'profile', identityId: 'i' })).toBe('pixpax/profiles/i/events/')
    expect(streamEventsPrefix({ type: 'moderation', identityId: 'i' })).toBe('pixpax/moderation/i/events/')
  })

  it('say which receipt types may open a stream: only its genesis, its recurring genesis, or any of its types', () => {
    const { identity, profile, moderation } = STREAM_TYPES
    expect([mayOpenStream(identity!, 'IDENTITY_CREATED'), onlyOpensStream(identity!, 'IDENTITY_CREATED')]).toEqual([true, true])
    expect(mayOpenStream(identity!, 'KEY_ADDED')).toBe(false)
    expect([mayOpenStream(profile!, 'PROFILE_UPDATED'), onlyOpensStream(profile!, 'PROFILE_UPDATED')]).toEqual([true, false])
    expect(mayOpenStream(profile!, 'POST_PUBLISHED')).toBe(false)
    expect(Object.keys(moderation!.receipts).every((t) => mayOpenStream(moderation!, t) && !onlyOpensStream(moderation!, t))).toBe(true)
    expect(mayOpenStream(moderation!, 'PROFILE_UPDATED')).toBe(false)
  })
})
