import fc from 'fast-check'
import { sql } from 'kysely'
import { beforeEach, describe, expect, it } from 'vitest'
import { describeEachDialect } from '../../test/support/database.js'
import { TokumeiError } from '../model/index.js'
import { claimJob, countJobs, enqueueJob, releaseOrphanedLeases, retryDelayMs } from './queue.js'
import { type JobHandler, Worker } from './worker.js'

const defaults = { maxAttempts: 3 }

describe('retryDelayMs', () => {
  it('doubles from 2 s with ±25 % jitter and caps at 10 minutes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          const base = Math.min(2000 * 2 ** (attempt - 1), 600_000)
          const delay = retryDelayMs(attempt, () => r)
          expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.75))
          expect(delay).toBeLessThanOrEqual(Math.ceil(base * 1.25))
        },
      ),
    )
  })
})

describeEachDialect('job queue', (t) => {
  beforeEach(async () => {
    await sql`delete from jobs.job`.execute(t.db.kysely)
  })

  const worker = (handlers: Record<string, JobHandler>, id?: string) =>
    new Worker(t.db.kysely, {
      handlers: new Map(Object.entries(handlers)),
      leaseSeconds: 60,
      pollMs: 10,
      workerId: id,
    })

  it('enqueues once per idempotency key', async () => {
    const first = await enqueueJob(t.db.kysely, { kind: 'k', idempotencyKey: 'submission:7' }, defaults)
    const again = await enqueueJob(t.db.kysely, { kind: 'k', idempotencyKey: 'submission:7' }, defaults)
    expect(first.created).toBe(true)
    expect(again).toEqual({ id: first.id, created: false })
    expect((await countJobs(t.db.kysely)).queued).toBe(1)
  })

  it('runs jobs to completion and stores their result', async () => {
    const { id } = await enqueueJob(t.db.kysely, { kind: 'double', payload: { n: 21 } }, defaults)
    const summary = await worker({ double: async (job) => ({ n: Number(job.payload.n) * 2 }) }).run({
      untilIdle: true,
    })
    expect(summary).toEqual({ done: 1, failed: 0 })
    const row = await t.db.kysely
      .selectFrom('jobs.job')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow()
    expect(row).toMatchObject({ status: 'done', attempts: 1, result: { n: 42 }, locked_by: null })
  })

  it("stores a running job's progress for watchers: the first report, then at most once a second, and the last", async () => {
    const { id } = await enqueueJob(t.db.kysely, { kind: 'steps', payload: {} }, defaults)
    const seen: unknown[] = []
    const read = async () =>
      (
        await t.db.kysely
          .selectFrom('jobs.job')
          .select('progress')
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      ).progress
    await worker({
      steps: async (_job, context) => {
        context.progress(1, 3, 'stage(s)')
        await new Promise((resolve) => setTimeout(resolve, 100))
        seen.push(await read())
        // Within the same second: not stored.
        context.progress(2, 3, 'stage(s)')
        await new Promise((resolve) => setTimeout(resolve, 100))
        seen.push(await read())
        // The last one always is.
        context.progress(3, 3, 'stage(s)')
        await new Promise((resolve) => setTimeout(resolve, 100))
        seen.push(await read())
        return {}
      },
    }).run({ untilIdle: true })
    expect(seen).toEqual([
      { done: 1, total: 3, unit: 'stage(s)' },
      { done: 1, total: 3, unit: 'stage(s)' },
      { done: 3, total: 3, unit: 'stage(s)' },
    ])
  })

  it('retries a failing job later and marks it failed after the last attempt', async () => {
    const { id } = await enqueueJob(t.db.kysely, { kind: 'flaky', maxAttempts: 2 }, defaults)
    const failing = worker({
      flaky: async () => {
        throw new TokumeiError('The upstream file is unreadable.', { code: 'test.flaky', kind: 'invalid' })
      },
    })
    expect(await failing.runOne()).toBe('failed')
    let row = await t.db.kysely
      .selectFrom('jobs.job')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow()
    expect(row.status).toBe('queued')
    expect(row.attempts).toBe(1)
    expect(row.last_error).toBe('test.flaky: The upstream file is unreadable.')
    expect(row.run_at.getTime()).toBeGreaterThan(Date.now() + 1000)
    // Not runnable until its backoff has passed.
    expect(await failing.runOne()).toBe('idle')
    await sql`update jobs.job set run_at = now() where id = ${id}`.execute(t.db.kysely)
    expect(await failing.runOne()).toBe('failed')
    row = await t.db.kysely.selectFrom('jobs.job').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
    expect(row.status).toBe('failed')
    expect(row.attempts).toBe(2)
    expect(row.finished_at).not.toBeNull()
  })

  it('never stores the message of an unexpected error (it may quote personal data)', async () => {
    const { id } = await enqueueJob(t.db.kysely, { kind: 'boom', maxAttempts: 1 }, defaults)
    await worker({
      boom: async () => {
        throw new RangeError('bad value 山田太郎 090-1234-5678')
      },
    }).runOne()
    const row = await t.db.kysely
      .selectFrom('jobs.job')
      .select('last_error')
      .where('id', '=', id)
      .executeTakeFirstOrThrow()
    expect(row.last_error).toBe('RangeError (message withheld: not a TokumeiError)')
  })

  it('takes over a job whose worker died once its lease has run out', async () => {
    const { id } = await enqueueJob(t.db.kysely, { kind: 'k' }, defaults)
    const first = await claimJob(t.db.kysely, 'dead-worker', 60, ['k'])
    expect(first?.id).toBe(id)
    expect(await claimJob(t.db.kysely, 'other', 60, ['k'])).toBeUndefined()
    await sql`update jobs.job set locked_until = now() - interval '1 second' where id = ${id}`.execute(
      t.db.kysely,
    )
    const second = await claimJob(t.db.kysely, 'other', 60, ['k'])
    expect(second).toMatchObject({ id, attempts: 2 })
  })

  it('takes back at once the jobs of a dead worker on this host, and only those', async () => {
    const ids: number[] = []
    for (const owner of ['host-a:4101:x1', 'host-a:4102:x2', 'host-b:4101:x3', 'host_a:4101:x4']) {
      const { id } = await enqueueJob(t.db.kysely, { kind: 'k', payload: { owner } }, defaults)
      await claimJob(t.db.kysely, owner, 600, ['k'])
      ids.push(id)
    }
    // 4101 died on host-a; 4102 still runs. host-b's 4101 is another machine's process, and
    // host_a is another host whose name a LIKE pattern with an unescaped "_" would match.
    const freed = await releaseOrphanedLeases(t.db.kysely, 'host-a', (pid) => pid === 4102)
    expect(freed).toEqual([ids[0]])
    const resumed = await claimJob(t.db.kysely, 'host-a:4200:y', 600, ['k'])
    expect(resumed).toMatchObject({ id: ids[0], attempts: 2 })
    expect(await claimJob(t.db.kysely, 'host-a:4200:y', 600, ['k'])).toBeUndefined()
  })

  it('lets the job in hand finish when asked to stop, then ends the loop', async () => {
    await enqueueJob(t.db.kysely, { kind: 'slow' }, defaults)
    await enqueueJob(t.db.kysely, { kind: 'slow' }, defaults)
    let w: Worker | undefined
    let sawAbort = false
    w = worker({
      slow: async (_job, ctx) => {
        w?.stop()
        await new Promise((r) => setTimeout(r, 100))
        sawAbort = ctx.signal.aborted
        return {}
      },
    })
    const summary = await w.run()
    expect(summary.done).toBe(1)
    expect(sawAbort).toBe(true)
    expect(await countJobs(t.db.kysely)).toMatchObject({ done: 1, queued: 1, running: 0 })
  })

  it('gives every job to exactly one of several concurrent workers', async () => {
    for (let i = 0; i < 30; i++) await enqueueJob(t.db.kysely, { kind: 'count', payload: { i } }, defaults)
    const seen: number[] = []
    const handler: JobHandler = async (job) => {
      seen.push(Number(job.payload.i))
      await new Promise((r) => setTimeout(r, 2))
      return {}
    }
    const results = await Promise.all(
      [1, 2, 3].map((n) => worker({ count: handler }, `w${n}`).run({ untilIdle: true })),
    )
    expect(results.reduce((sum, r) => sum + r.done, 0)).toBe(30)
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i))
  })

  it('keeps running through a database failure and picks up work once it is back', async () => {
    const errors: number[] = []
    const w = new Worker(t.db.kysely, {
      handlers: new Map<string, JobHandler>([['k', async () => ({})]]),
      leaseSeconds: 60,
      pollMs: 5,
      events: { onLoopError: (_error, count) => void errors.push(count) },
    })
    await sql`alter table jobs.job rename to job_away`.execute(t.db.kysely)
    const running = w.run()
    for (let i = 0; i < 200 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    await sql`alter table jobs.job_away rename to job`.execute(t.db.kysely)
    expect(errors[0]).toBe(1)
    const { id } = await enqueueJob(t.db.kysely, { kind: 'k' }, defaults)
    for (let i = 0; i < 400; i++) {
      const row = await t.db.kysely
        .selectFrom('jobs.job')
        .select('status')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
      if (row.status === 'done') break
      await new Promise((r) => setTimeout(r, 10))
    }
    w.stop()
    expect(await running).toEqual({ done: 1, failed: 0 })
  })
})
