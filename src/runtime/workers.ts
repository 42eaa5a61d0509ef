import { setTimeout as sleep } from 'node:timers/promises'
import { type JobHandler, type PeriodicTask, Worker, type WorkerEvents } from '../jobs/index.js'
import { TokumeiError } from '../model/index.js'
import { writeCheckpoint } from '../security/index.js'
import type { Runtime } from './runtime.js'

/** The job kinds this build of tokumei runs. Later modules add theirs here. */
export function builtinHandlers(runtime: Runtime): Map<string, JobHandler> {
  return new Map<string, JobHandler>([
    [
      'audit.checkpoint',
      async () => {
        const checkpoint = await writeCheckpoint(runtime.db.kysely, runtime.keyring)
        return { seq: checkpoint?.seq ?? null }
      },
    ],
    [
      // A diagnostic job: proves that workers run, and lets operators test graceful shutdown.
      'system.sleep',
      async (job, context) => {
        const ms = Number(job.payload.ms ?? 0)
        if (!Number.isInteger(ms) || ms < 0 || ms > 3_600_000) {
          throw new TokumeiError('system.sleep needs payload {"ms": 0…3600000}.', {
            code: 'jobs.bad_payload',
            kind: 'invalid',
          })
        }
        // Finishes its sleep even when asked to stop: shutdown waits for the job in hand.
        await sleep(ms)
        return { slept_ms: ms, stop_requested: context.signal.aborted }
      },
    ],
  ])
}

/**
 * A worker with the built-in handlers and the periodic audit checkpoint. Every job it finishes or
 * fails is an audit event (`job.done`, `job.failed`), named by job id and kind only.
 */
export function createWorker(runtime: Runtime, events?: WorkerEvents): Worker {
  const periodic: PeriodicTask[] = [
    {
      name: 'audit.checkpoint',
      everyMs: runtime.config.audit.checkpointSeconds * 1000,
      alsoOnStop: true,
      run: async () => {
        await writeCheckpoint(runtime.db.kysely, runtime.keyring)
      },
    },
  ]
  return new Worker(runtime.db.kysely, {
    handlers: builtinHandlers(runtime),
    leaseSeconds: runtime.config.jobs.leaseSeconds,
    pollMs: runtime.config.jobs.pollMs,
    periodic,
    events: {
      onJobDone: async (job, ms) => {
        await runtime.audit({
          action: 'job.done',
          target: `job:${job.id}`,
          detail: { kind: job.kind, attempt: job.attempts, ms },
        })
        await events?.onJobDone?.(job, ms)
      },
      onJobFailed: async (job, error, willRetry) => {
        await runtime.audit({
          action: 'job.failed',
          target: `job:${job.id}`,
          outcome: 'failed',
          detail: { kind: job.kind, attempt: job.attempts, will_retry: willRetry },
        })
        await events?.onJobFailed?.(job, error, willRetry)
      },
      onTaskFailed: events?.onTaskFailed,
      onLoopError: events?.onLoopError,
    },
  })
}
