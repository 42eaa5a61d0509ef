import type { Reporter, TestModule } from 'vitest/node'

/**
 * Closes the run with what the SQL suites ran on, then one plain summary line
 * ("tests: N passed, N failed, N skipped") that CI reads.
 */
export default class DialectReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const byDialect = new Map<string, { passed: number; failed: number }>()
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === 'passed') passed++
        else if (state === 'failed') failed++
        else skipped++
        const dialect = /\[(pglite|postgres)\]/.exec(test.fullName)?.[1]
        if (!dialect || state === 'skipped' || state === 'pending') continue
        const counts = byDialect.get(dialect) ?? { passed: 0, failed: 0 }
        if (state === 'passed') counts.passed++
        if (state === 'failed') counts.failed++
        byDialect.set(dialect, counts)
      }
    }
    const dialects = ['pglite', 'postgres'].map((d) => {
      const c = byDialect.get(d)
      return c ? `${d} ${c.passed} passed, ${c.failed} failed` : `${d} did not run`
    })
    process.stdout.write(`\nSQL suites by dialect: ${dialects.join('; ')}\n`)
    process.stdout.write(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`)
  }
}
