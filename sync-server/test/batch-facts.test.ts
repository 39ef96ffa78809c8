import { MemoryFacts } from '@pixpax/shared'
import { describe, expect, it } from 'vitest'
import { BatchFacts, factLock, factsQuery } from '../src/ingest/batch-facts.js'

describe('facts of the rules across streams', () => {
  it('a batch keeps loaded facts, absent ones included, and changes them in memory', () => {
    const facts = new BatchFacts()
    facts.receive(
      [
        { kind: 'test.owner', key: 'card-1' },
        { kind: 'test.owner', key: 'card-2' },
      ],
      JSON.stringify({ 'test.owner': [{ k: 'card-1', v: 'alice' }] }),
    )
    expect(facts.fact('test.owner', 'card-1')).toBe('alice')
    expect(facts.fact('test.owner', 'card-2')).toBeUndefined()
    facts.apply([
      { kind: 'test.owner', key: 'card-1', value: undefined },
      { kind: 'test.owner', key: 'card-2', value: 'bob' },
    ])
    expect(facts.fact('test.owner', 'card-1')).toBeUndefined()
    expect(facts.fact('test.owner', 'card-2')).toBe('bob')
  })

  it('a rule that changes a fact it did not read is a bug, not a silent write', () => {
    const facts = new BatchFacts()
    expect(() => facts.apply([{ kind: 'test.owner', key: 'card-9', value: 'mallory' }])).toThrow(/without reading it/)
  })

  it('a fact kind no relay module loads fails loudly', () => {
    expect(() => factsQuery([{ kind: 'nobody.loads-this', key: 'x' }], 1)).toThrow(/no relay module loads facts of kind nobody.loads-this/)
    expect(factsQuery([], 1)).toEqual({ sql: `'{}'::json`, params: [] })
  })

  it('fact locks never collide with stream locks (stream keys have no colon)', () => {
    expect(factLock({ kind: 'social.handle', key: 'bob' })).toBe('fact:social.handle:bob')
  })

  it('an offline replay keeps log facts and knows it holds no relay facts', () => {
    const facts = new MemoryFacts()
    facts.apply([{ kind: 'test.owner', key: 'a', value: { n: 1 } }])
    expect(facts.fact('test.owner', 'a')).toEqual({ n: 1 })
    expect(facts.knows('test.owner')).toBe(true)
  })
})
