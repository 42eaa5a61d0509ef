import { hostname } from 'node:os'
import type { Kysely } from 'kysely'
import type { Schema } from '../db/index.js'
import { isTokumeiError } from '../model/index.js'
import {
  claimJob,
  completeJob,
  extendLease,
  failJob,
  hasPendingWork,
  type Job,
  recordProgress,
  releaseOrphanedLeases,
} from './queue.js'

export interface JobContext {
  /** Aborted when the worker is asked to stop; long handlers check it between steps. */
  readonly signal: AbortSignal
  /** Renews this job's lease; call it during long work. */
  extendLease(): Promise<void>
  /** Reports how far a long job is (shown by `tokumei process`). */
  progress(done: number, total: number, unit: string): void
}

export type JobHandler = (job: Job, context: JobContext) => Promise<Record<string, unknown> | undefined>

export interface PeriodicTask {
  readonly name: string
  readonly everyMs: number
  /** Run once more when the loop ends (e.g. sign the audit chain's final head). */
  readonly alsoOnStop?: boolean
  run(): Promise<void>
}

/** Hooks around each job; awaited, so a hook that records (e.g. an audit event) finishes first. */
export interface WorkerEvents {
  onJobDone?(job: Job, ms: number): void | Promise<void>
  onJobFailed?(job: Job, error: string, willRetry: boolean): void | Promise<void>
  onJobProgress?(job: Job, done: number, total: number, unit: string): void
  onTaskFailed?(task: string, error: string): void | Promise<void>
  /** Jobs of a dead worker on this host were taken back at start (resumed now, not after the lease). */
  onOrphansReleased?(jobIds: readonly number[]): void | Promise<void>
  /** The loop itself failed (usually the database); `count` consecutive times so far. */
  onLoopError?(error: string, count: number): void | Promise<void>
}

/** After this many failures in a row the loop gives up and `run()` rejects. */
const MAX_CONSECUTIVE_ERRORS = 10
const PROGRESS_EVERY_MS = 1000

export interface WorkerOptions {
  readonly handlers: ReadonlyMap<string, JobHandler>
  readonly leaseSeconds: number
  readonly pollMs: number
  readonly periodic?: readonly PeriodicTask[]
  readonly events?: WorkerEvents
  readonly workerId?: string
}

export interface WorkerSummary {
  readonly done: number
  readonly failed: number
}

/**
 * One worker loop: claim a job, run its handler, record the outcome, repeat. `stop()` lets the job
 * in hand finish (its handler sees the abort signal) and then ends the loop; nothing is left claimed.
 */
export class Worker {
  readonly #db: Kysely<Schema>
  readonly #options: WorkerOptions
  readonly #workerId: string
  readonly #stop = new AbortController()
  readonly #lastRun = new Map<string, number>()
  #wake: (() => void) | undefined

  constructor(db: Kysely<Schema>, options: WorkerOptions) {
    this.#db = db
    this.#options = Object.freeze({ ...options })
    this.#workerId =
      options.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
  }

  get id(): string {
    return this.#workerId
  }

  get stopping(): boolean {
    return this.#stop.signal.aborted
  }

  stop(): void {
    this.#stop.abort()
    this.#wake?.()
  }

  /** Runs until `stop()`, or with `untilIdle` until no job is runnable or running. */
  async run(options: { untilIdle?: boolean } = {}): Promise<WorkerSummary> {
    const summary = { done: 0, failed: 0 }
    let consecutiveErrors = 0
    try {
      const freed = await releaseOrphanedLeases(this.#db, hostname())
      if (freed.length > 0) await this.#options.events?.onOrphansReleased?.(freed)
    } catch (error) {
      // Not fatal: those jobs are taken over when their lease runs out.
      await this.#options.events?.onTaskFailed?.('taking back jobs of dead workers', describeFailure(error))
    }
    while (!this.stopping) {
      try {
        await this.#runPeriodic()
        const outcome = await this.runOne()
        consecutiveErrors = 0
        if (outcome === 'done') summary.done++
        if (outcome === 'failed') summary.failed++
        if (outcome !== 'idle') continue
        if (options.untilIdle && !(await hasPendingWork(this.#db, [...this.#options.handlers.keys()]))) break
      } catch (error) {
        // The database went away (restart, network): keep trying with growing pauses, then give up.
        consecutiveErrors++
        await this.#options.events?.onLoopError?.(describeFailure(error), consecutiveErrors)
        if (consecutiveErrors >= MAX_CONSECUTIVE_ERRORS) throw error
        await this.#sleep(Math.min(this.#options.pollMs * 2 ** consecutiveErrors, 30_000))
        continue
      }
      await this.#sleep(this.#options.pollMs)
    }
    await this.#runPeriodic(true)
    return summary
  }

  /** Claims and runs at most one job. */
  async runOne(): Promise<'done' | 'failed' | 'idle'> {
    const kinds = [...this.#options.handlers.keys()]
    const job = await claimJob(this.#db, this.#workerId, this.#options.leaseSeconds, kinds)
    if (!job) return 'idle'
    const handler = this.#options.handlers.get(job.kind) as JobHandler
    const started = Date.now()
    let lastStored = 0
    let result: Record<string, unknown> | undefined
    try {
      result = await handler(job, {
        signal: this.#stop.signal,
        extendLease: () => extendLease(this.#db, job, this.#workerId, this.#options.leaseSeconds),
        progress: (done, total, unit) => {
          this.#options.events?.onJobProgress?.(job, done, total, unit)
          // Stored at most once a second (and at the end), never waited for: progress is for watchers.
          const now = Date.now()
          if (now - lastStored < PROGRESS_EVERY_MS && done < total) return
          lastStored = now
          recordProgress(this.#db, job, this.#workerId, { done, total, unit }).catch(() => {})
        },
      })
    } catch (error) {
      const text = describeFailure(error)
      const status = await failJob(this.#db, job, this.#workerId, text)
      await this.#options.events?.onJobFailed?.(job, text, status === 'queued')
      return 'failed'
    }
    await completeJob(this.#db, job, this.#workerId, result ?? {})
    await this.#options.events?.onJobDone?.(job, Date.now() - started)
    return 'done'
  }

  async #runPeriodic(stopping = false): Promise<void> {
    const now = Date.now()
    for (const task of this.#options.periodic ?? []) {
      if (stopping ? !task.alsoOnStop : now - (this.#lastRun.get(task.name) ?? 0) < task.everyMs) continue
      this.#lastRun.set(task.name, now)
      try {
        await task.run()
      } catch (error) {
        await this.#options.events?.onTaskFailed?.(task.name, describeFailure(error))
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = done
    })
  }
}

/**
 * What is stored and logged of a failure. Only TokumeiError messages are written out: they are
 * composed to be free of personal data. Any other error may quote the data it choked on, so only its
 * class name is kept.
 */
export function describeFailure(error: unknown): string {
  if (isTokumeiError(error)) return `${error.code}: ${error.message}`
  const name = error instanceof Error ? error.name : typeof error
  return `${name} (message withheld: not a TokumeiError)`
}
