import type { Command } from 'commander'
import { countJobs, enqueueJob } from '../../jobs/index.js'
import { TokumeiError } from '../../model/index.js'
import { builtinHandlers, createWorker } from '../../runtime/index.js'
import type { Define } from '../main.js'

export function registerJobCommands(program: Command, define: Define): void {
  program
    .command('process')
    .description('run the core workers: take jobs from the queue and do them')
    .option('--until-idle', 'stop when no job is runnable or running, instead of waiting for more')
    .action(
      define(async ({ withRuntime, out, onShutdown }, options) => {
        return withRuntime(async (runtime) => {
          const worker = createWorker(runtime, {
            onJobDone: (job, ms) => out.progress(`job ${job.id} (${job.kind}) done in ${ms} ms`),
            onJobFailed: (job, error, willRetry) =>
              out.progress(
                `job ${job.id} (${job.kind}) failed${willRetry ? ', will retry' : ' for good'}: ${error}`,
              ),
            onJobProgress: (job, done, total, unit) =>
              out.progress(`job ${job.id} (${job.kind}): ${done}/${total} ${unit}`),
            onTaskFailed: (task, error) => out.warn(`${task} failed: ${error}`),
            onOrphansReleased: (ids) =>
              out.progress(
                `Resuming job(s) ${ids.join(', ')} of a worker on this host that stopped without finishing.`,
              ),
            onLoopError: (error, count) =>
              out.warn(`worker loop failed (${count} in a row), retrying: ${error}`),
          })
          onShutdown(() => {
            out.progress('Stopping after the job in hand…')
            worker.stop()
          })
          const summary = await worker.run({ untilIdle: Boolean(options.untilIdle) })
          const counts = await countJobs(runtime.db.kysely)
          out.result(
            { ...summary, queue: counts },
            `Processed ${summary.done + summary.failed} job(s): ${summary.done} done, ${summary.failed} failed. Queue: ${counts.queued} queued, ${counts.running} running, ${counts.failed} failed.`,
          )
          return 0
        })
      }),
    )

  const jobs = program.command('jobs').description('inspect and feed the work queue')
  jobs
    .command('status')
    .description('count jobs by state')
    .action(
      define(async ({ withRuntime, out }) => {
        return withRuntime(async (runtime) => {
          const counts = await countJobs(runtime.db.kysely)
          out.result(
            counts,
            `queued ${counts.queued}, running ${counts.running}, done ${counts.done}, failed ${counts.failed}`,
          )
          return 0
        })
      }),
    )
  jobs
    .command('enqueue <kind>')
    .description(
      'queue a job (kinds: intake.process, intake.release-held, optout.request, link.run, release.build, stats.query, audit.checkpoint, system.sleep)',
    )
    .option('--payload <json>', 'the job payload as a JSON object', '{}')
    .option('--key <idempotency-key>', 'enqueue at most once under this key')
    .action(
      define(async ({ withRuntime, out }, options, kind) => {
        return withRuntime(async (runtime) => {
          const known = [...builtinHandlers(runtime).keys()]
          if (!kind || !known.includes(kind)) {
            throw new TokumeiError(`Unknown job kind "${kind}": use one of ${known.join(', ')}.`, {
              code: 'jobs.unknown_kind',
              kind: 'invalid',
            })
          }
          let payload: unknown
          try {
            payload = JSON.parse(options.payload as string)
          } catch {
            payload = undefined
          }
          if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
            throw new TokumeiError('--payload must be a JSON object, e.g. \'{"ms": 1000}\'.', {
              code: 'jobs.bad_payload',
              kind: 'invalid',
            })
          }
          const result = await enqueueJob(
            runtime.db.kysely,
            {
              kind,
              payload: payload as Record<string, unknown>,
              idempotencyKey: options.key as string | undefined,
            },
            { maxAttempts: runtime.config.jobs.maxAttempts },
          )
          await runtime.audit({
            action: 'jobs.enqueue',
            target: `job:${result.id}`,
            detail: { kind, created: result.created },
          })
          out.result(
            result,
            result.created
              ? `Queued job ${result.id} (${kind}).`
              : `Job ${result.id} already exists under that key; nothing queued.`,
          )
          return 0
        })
      }),
    )
}
