/**
 * Just enough of vitest's API (describe / it / beforeEach / afterEach / expect) to run client-sdk's
 * conformance suites inside a browser page. `expect` is vitest's own (@vitest/expect on chai), so the
 * matchers behave exactly as in Node; this file only collects and runs the tests in order.
 */
import { chai, JestAsymmetricMatchers, JestChaiExpect, JestExtend } from '@vitest/expect'

chai.use(JestExtend)
chai.use(JestChaiExpect)
chai.use(JestAsymmetricMatchers)

export const expect = chai.expect

type Hook = () => unknown
interface TestContext {
  skip(): never
}
interface Suite {
  name: string
  parent: Suite | undefined
  beforeEach: Hook[]
  afterEach: Hook[]
}
interface Test {
  suite: Suite
  name: string
  fn: (ctx: TestContext) => unknown
}

export interface TestResult {
  name: string
  status: 'passed' | 'failed' | 'skipped'
  error?: string
  ms: number
}

const root: Suite = { name: '', parent: undefined, beforeEach: [], afterEach: [] }
let current = root
const tests: Test[] = []

class Skipped extends Error {}

export function describe(name: string, body: () => void): void {
  const suite: Suite = { name, parent: current, beforeEach: [], afterEach: [] }
  const outer = current
  current = suite
  try {
    body()
  } finally {
    current = outer
  }
}

export function it(name: string, fn: (ctx: TestContext) => unknown): void {
  tests.push({ suite: current, name, fn })
}
export const test = it

export function beforeEach(fn: Hook): void {
  current.beforeEach.push(fn)
}

export function afterEach(fn: Hook): void {
  current.afterEach.push(fn)
}

function chainOf(suite: Suite): Suite[] {
  const out: Suite[] = []
  for (let s: Suite | undefined = suite; s; s = s.parent) out.unshift(s)
  return out
}

/** Runs every collected test in order (hooks outermost first, after-hooks innermost first). */
export async function runCollected(): Promise<TestResult[]> {
  const results: TestResult[] = []
  for (const t of tests) {
    const suites = chainOf(t.suite)
    const name = [...suites.map((s) => s.name).filter(Boolean), t.name].join(' > ')
    const started = performance.now()
    let status: TestResult['status'] = 'passed'
    let error: string | undefined
    try {
      for (const s of suites) for (const hook of s.beforeEach) await hook()
      try {
        await t.fn({
          skip: () => {
            throw new Skipped()
          },
        })
      } finally {
        for (const s of [...suites].reverse()) for (const hook of s.afterEach) await hook()
      }
    } catch (e) {
      if (e instanceof Skipped) status = 'skipped'
      else {
        status = 'failed'
        error = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
      }
    }
    results.push({ name, status, ms: Math.round(performance.now() - started), ...(error ? { error } : {}) })
  }
  return results
}
