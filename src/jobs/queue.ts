import { type Kysely, sql } from 'kysely'
import type { JobStatus, Schema } from '../db/index.js'

/**
 * The PostgreSQL-backed work queue. Workers claim jobs with FOR UPDATE SKIP LOCKED, so any number of
 * worker processes share one queue without double work; a claim is a lease, and a job whose worker
 * died is claimed again when the lease runs out. Payloads carry ids, never personal data.
 */
export interface Job {
  readonly id: number
  readonly kind: string
  readonly payload: Record<string, unknown>
  readonly attempts: number
  readonly maxAttempts: number
  readonly idempotencyKey: string | null
}

export interface EnqueueOptions {
  readonly kind: string
  readonly payload?: Record<string, unknown>
  /** A job with the same key is enqueued once; later calls return the first job's id. */
  readonly idempotencyKey?: string
  readonly priority?: number
  readonly runAt?: Date
  readonly maxAttempts?: number
}

export interface EnqueueResult {
  readonly id: number
  /** False when a job with the same idempotency key already existed. */
  readonly created: boolean
}

type Db = Kysely<Schema>

export async function enqueueJob(
  db: Db,
  options: EnqueueOptions,
  defaults: { maxAttempts: number },
): Promise<EnqueueResult> {
  const inserted = await db
    .insertInto('jobs.job')
    .values({
      kind: options.kind,
      payload: JSON.stringify(options.payload ?? {}),
      idempotency_key: options.idempotencyKey ?? null,
      priority: options.priority ?? 0,
      run_at: options.runAt ?? new Date(),
      max_attempts: options.maxAttempts ?? defaults.maxAttempts,
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returning('id')
    .executeTakeFirst()
  if (inserted) return { id: inserted.id, created: true }
  const existing = await db
    .selectFrom('jobs.job')
    .select('id')
    .where('idempotency_key', '=', options.idempotencyKey ?? '')
    .executeTakeFirstOrThrow()
  return { id: existing.id, created: false }
}

/** Claims the next runnable job for this worker, or returns undefined when there is none. */
export async function claimJob(
  db: Db,
  workerId: string,
  leaseSeconds: number,
  kinds: readonly string[],
): Promise<Job | undefined> {
  if (kinds.length === 0) return undefined
  const { rows } = await sql<{
    id: number
    kind: string
    payload: Record<string, unknown>
    attempts: number
    max_attempts: number
    idempotency_key: string | null
  }>`
    update jobs.job set
      status = 'running',
      attempts = attempts + 1,
      locked_by = ${workerId},
      locked_until = now() + make_interval(secs => ${leaseSeconds}),
      started_at = coalesce(started_at, now())
    where id = (
      select id from jobs.job
      where kind = any(${kinds}::text[])
        and ((status = 'queued' and run_at <= now()) or (status = 'running' and locked_until < now()))
      order by priority desc, run_at, id
      for update skip locked
      limit 1
    )
    returning id, kind, payload, attempts, max_attempts, idempotency_key`.execute(db)
  const row = rows[0]
  if (!row) return undefined
  return {
    id: row.id,
    kind: row.kind,
    payload: row.payload,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    idempotencyKey: row.idempotency_key,
  }
}

export async function completeJob(
  db: Db,
  job: Job,
  workerId: string,
  result: Record<string, unknown>,
): Promise<void> {
  await db
    .updateTable('jobs.job')
    .set({
      status: 'done',
      result: JSON.stringify(result),
      finished_at: new Date(),
      locked_by: null,
      locked_until: null,
      last_error: null,
    })
    .where('id', '=', job.id)
    .where('locked_by', '=', workerId)
    .execute()
}

/** Exponential backoff with jitter: 2 s, 4 s, 8 s … capped at 10 minutes. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(2_000 * 2 ** Math.max(0, attempt - 1), 600_000)
  return Math.round(base * (0.75 + 0.5 * random()))
}

/** Records a failed attempt: back to the queue with a delay, or `failed` after the last attempt. */
export async function failJob(db: Db, job: Job, workerId: string, error: string): Promise<JobStatus> {
  const exhausted = job.attempts >= job.maxAttempts
  const status: JobStatus = exhausted ? 'failed' : 'queued'
  await db
    .updateTable('jobs.job')
    .set({
      status,
      last_error: error.slice(0, 2000),
      run_at: new Date(Date.now() + retryDelayMs(job.attempts)),
      finished_at: exhausted ? new Date() : null,
      locked_by: null,
      locked_until: null,
    })
    .where('id', '=', job.id)
    .where('locked_by', '=', workerId)
    .execute()
  return status
}

/** Extends the lease of a long job so that no other worker takes it over. */
export async function extendLease(db: Db, job: Job, workerId: string, leaseSeconds: number): Promise<void> {
  await sql`update jobs.job set locked_until = now() + make_interval(secs => ${leaseSeconds})
    where id = ${job.id} and locked_by = ${workerId} and status = 'running'`.execute(db)
}

/** How far a running job has come, for those who watch it (the console's progress bars). */
export interface JobProgress {
  readonly done: number
  readonly total: number
  readonly unit: string
}

export async function recordProgress(
  db: Db,
  job: Job,
  workerId: string,
  progress: JobProgress,
): Promise<void> {
  await sql`update jobs.job set progress = ${JSON.stringify(progress)}::jsonb
    where id = ${job.id} and locked_by = ${workerId} and status = 'running'`.execute(db)
}

/** Whether process `pid` on this host is alive (a process of another user counts as alive). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

/**
 * Ends at once the leases of workers on this host whose process is gone (killed, crashed), so a
 * restarted worker resumes their jobs now instead of after the lease. Worker ids are
 * `host:pid:random`; ids of other hosts are left to their leases. Returns the ids of the jobs freed.
 */
export async function releaseOrphanedLeases(
  db: Db,
  host: string,
  alive: (pid: number) => boolean = processAlive,
): Promise<number[]> {
  const running = await db
    .selectFrom('jobs.job')
    .select(['id', 'locked_by'])
    .where('status', '=', 'running')
    .where('locked_by', 'like', `${host.replace(/[\\%_]/g, '\\$&')}:%`)
    .execute()
  const freed: number[] = []
  for (const job of running) {
    const pid = Number((job.locked_by ?? '').slice(host.length + 1).split(':')[0])
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue
    const result = await db
      .updateTable('jobs.job')
      // In the past, not now(): a claim in the same clock tick must see the lease as over.
      .set({ locked_until: sql`now() - interval '1 second'` })
      .where('id', '=', job.id)
      .where('locked_by', '=', job.locked_by)
      .where('status', '=', 'running')
      .executeTakeFirst()
    if (Number(result.numUpdatedRows) > 0) freed.push(job.id)
  }
  return freed
}

export interface JobCounts {
  readonly queued: number
  readonly running: number
  readonly done: number
  readonly failed: number
}

export async function countJobs(db: Db): Promise<JobCounts> {
  const rows = await db
    .selectFrom('jobs.job')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute()
  const counts = { queued: 0, running: 0, done: 0, failed: 0 }
  for (const row of rows) counts[row.status] = Number(row.n)
  return counts
}

/** Whether any job of these kinds is runnable now or running (for `process --until-idle`). */
export async function hasPendingWork(db: Db, kinds: readonly string[]): Promise<boolean> {
  const row = await db
    .selectFrom('jobs.job')
    .select('id')
    .where('kind', 'in', kinds.length > 0 ? [...kinds] : [''])
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'queued'), eb('run_at', '<=', new Date())]),
        eb('status', '=', 'running'),
      ]),
    )
    .limit(1)
    .executeTakeFirst()
  return row !== undefined
}
