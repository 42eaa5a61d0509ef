import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ObjectStore } from '../clinical/index.js'
import { LINK_STAGES, ownIdentifiers, runLinkage, VariantTable } from '../identity/index.js'
import {
  type CoreIntakeContext,
  processOptOutRequest,
  processSubmission,
  purgeExpiredReceipts,
  type ReceiveContext,
  releaseHeldRecords,
} from '../intake/index.js'
import { enqueueJob, type JobHandler, type PeriodicTask, Worker, type WorkerEvents } from '../jobs/index.js'
import { TokumeiError } from '../model/index.js'
import type { BuildContext, DeliveryContext } from '../release/index.js'
import { type AuthContext, type MonitorContext, writeCheckpoint } from '../security/index.js'
import { defaultSharedDataDir } from '../synth/index.js'
import type { Runtime } from './runtime.js'

/** What the core's intake needs from the runtime; `job` names the job the work belongs to. */
export function coreIntakeContext(runtime: Runtime, job?: { id: number; kind: string }): CoreIntakeContext {
  return {
    actor: runtime.actor,
    ...(job ? { job: { id: job.id, kind: job.kind } } : {}),
    db: runtime.db.kysely,
    keyring: runtime.keyring,
    settings: runtime.config.intake,
    objects: new ObjectStore(join(runtime.config.dataDir, 'objects'), runtime.keyring),
    audit: (event) => runtime.audit(event),
  }
}

/**
 * What a release build needs: the clinical objects, and — handed over from identity, which the
 * release module never imports — the patients' own identifiers to scrub their documents with. That
 * is a read of the identity vault: it is audited (`identity.read`, with the job it belongs to), and
 * the monitor accepts it only inside a `release.build` job.
 */
export async function releaseBuildContext(
  runtime: Runtime,
  onProgress?: BuildContext['onProgress'],
  job?: { id: number; kind: string },
): Promise<BuildContext> {
  const objects = new ObjectStore(join(runtime.config.dataDir, 'objects'), runtime.keyring)
  const institutions = await runtime.db.kysely.selectFrom('governance.institution').select('name').execute()
  return {
    db: runtime.db.kysely,
    keyring: runtime.keyring,
    actor: runtime.actor,
    releasesDir: join(runtime.config.dataDir, 'releases'),
    readObject: (key) => objects.get(key),
    patientContexts: async (refs) => {
      const identifiers = await ownIdentifiers(runtime.db.kysely, runtime.keyring, refs)
      await runtime.audit({
        action: 'identity.read',
        target: 'release.build',
        detail: {
          patients: identifiers.size,
          purpose: 'document scrubbing',
          job: job?.id ?? null,
          kind: job?.kind ?? null,
        },
      })
      return identifiers
    },
    institutionNames: institutions.map((i) => i.name),
    onProgress,
  }
}

/** Where deliveries wait for their download. */
export function deliveryContext(runtime: Runtime, actor: string = runtime.actor): DeliveryContext {
  return {
    db: runtime.db.kysely,
    keyring: runtime.keyring,
    actor,
    deliveriesDir: join(runtime.config.dataDir, 'deliveries'),
  }
}

/** What the gateway's intake needs from the runtime; `actor` names who submits. */
export function receiveContext(runtime: Runtime, actor: string = runtime.actor): ReceiveContext {
  return {
    db: runtime.db.kysely,
    keyring: runtime.keyring,
    settings: runtime.config.intake,
    actor,
    maxAttempts: runtime.config.jobs.maxAttempts,
  }
}

/** The 異体字 list (identity.variantList, else the shared data's, else built-in pairs), read once. */
const variantTables = new Map<string, VariantTable>()
function variantTable(runtime: Runtime): VariantTable {
  const configured = runtime.config.identity.variantList
  if (configured && !existsSync(configured))
    throw new TokumeiError(`The 異体字 list ${configured} (identity.variantList) does not exist.`, {
      code: 'identity.variant_list_missing',
      kind: 'invalid',
    })
  const shared = defaultSharedDataDir(process.env)
  const file = configured ?? (shared ? join(shared, 'itaiji', 'itaiji_list.yml') : '')
  // Read once per file and process (a runtime with another list gets its own).
  let table = variantTables.get(file)
  if (!table) {
    table = VariantTable.load(file || undefined)
    variantTables.set(file, table)
  }
  return table
}

/** What the monitor needs from the runtime. */
export function monitorContext(runtime: Runtime): MonitorContext {
  return { db: runtime.db.kysely, keyring: runtime.keyring, settings: runtime.config.monitor }
}

/** What accounts, sign-in and sessions need from the runtime. */
export function authContext(runtime: Runtime): AuthContext {
  return {
    db: runtime.db.kysely,
    keyring: runtime.keyring,
    settings: runtime.config.auth,
    audit: (event) => runtime.audit(event),
  }
}

/** The job kinds this build of tokumei runs. Later modules add theirs here. */
export function builtinHandlers(runtime: Runtime): Map<string, JobHandler> {
  return new Map<string, JobHandler>([
    [
      'intake.process',
      async (job, context) => {
        const submission = Number(job.payload.submission)
        if (!Number.isSafeInteger(submission) || submission <= 0) {
          throw new TokumeiError('intake.process needs payload {"submission": <id>}.', {
            code: 'jobs.bad_payload',
            kind: 'invalid',
          })
        }
        const counts = await processSubmission(coreIntakeContext(runtime, job), submission, {
          signal: context.signal,
          onBatch: context.extendLease,
          onProgress: (done, total) => context.progress(done, total, 'file(s)'),
        })
        if (context.signal.aborted)
          throw new TokumeiError('Stopped before the submission was finished; it resumes where it stopped.', {
            code: 'jobs.interrupted',
            kind: 'unavailable',
          })
        return { ...counts }
      },
    ],
    [
      // A patient's 提供停止 request from the public page: registered in the same way as from the CLI.
      'optout.request',
      async (job) => {
        const request = Number(job.payload.request)
        if (!Number.isSafeInteger(request) || request <= 0)
          throw new TokumeiError('optout.request needs payload {"request": <id>}.', {
            code: 'jobs.bad_payload',
            kind: 'invalid',
          })
        return { ...(await processOptOutRequest(coreIntakeContext(runtime, job), request)) }
      },
    ],
    [
      'intake.release-held',
      async (job) => {
        const result = await releaseHeldRecords(coreIntakeContext(runtime, job))
        return { ...result }
      },
    ],
    [
      // 名寄せ: links the vault's patients into persons — all, or those not linked yet (it may read the vault).
      'link.run',
      async (job, context) => {
        const mode = job.payload.mode ?? 'auto'
        if (mode !== 'auto' && mode !== 'full' && mode !== 'incremental')
          throw new TokumeiError('link.run takes payload {"mode": "auto" | "full" | "incremental"}.', {
            code: 'jobs.bad_payload',
            kind: 'invalid',
          })
        const summary = await runLinkage(
          {
            db: runtime.db.kysely,
            keyring: runtime.keyring,
            actor: runtime.actor,
            variants: variantTable(runtime),
            job: { id: job.id, kind: job.kind },
            thresholds: {
              link: runtime.config.identity.linkWeight,
              review: runtime.config.identity.reviewWeight,
            },
          },
          {
            mode,
            onStage: (stage) =>
              context.progress(LINK_STAGES.indexOf(stage) + 1, LINK_STAGES.length, 'linkage stage(s)'),
          },
        )
        return { ...summary, passes: undefined, timings: undefined }
      },
    ],
    [
      // A release build from a spec (YAML or JSON text); a policy file named in it resolves against
      // `dir`, a stored policy chosen on the portal comes with the payload ({name, text}).
      'release.build',
      async (job, context) => {
        const { buildRelease, parseSpec } = await import('../release/index.js')
        if (typeof job.payload.spec !== 'string')
          throw new TokumeiError('release.build needs payload {"spec": "<the spec as YAML or JSON>"}.', {
            code: 'jobs.bad_payload',
            kind: 'invalid',
          })
        const dir = typeof job.payload.dir === 'string' ? job.payload.dir : runtime.config.dataDir
        const stored = job.payload.policy as { name?: unknown; text?: unknown } | undefined
        const named =
          typeof stored?.name === 'string' && typeof stored.text === 'string'
            ? { name: stored.name, text: stored.text }
            : undefined
        const spec = parseSpec(job.payload.spec, `the spec of job ${job.id}`, dir, named)
        // cohort, persons, one stage per further table (images and documents have a second), write.
        const total =
          2 +
          spec.selected.length +
          spec.selected.filter((t) => t.table === 'images' || t.table === 'documents').length
        let started = 0
        const built = await buildRelease(
          await releaseBuildContext(
            runtime,
            (_stage, message) => {
              if (message === 'started') context.progress(Math.min(++started, total) - 1, total, 'stage(s)')
              // A lease that cannot be renewed now is renewed at the next stage, or the job is taken over.
              context.extendLease().catch(() => {})
            },
            job,
          ),
          spec,
        )
        context.progress(total, total, 'stage(s)')
        return {
          id: built.id,
          dir: built.dir,
          project: spec.project,
          persons: built.persons,
          tables: built.tables,
          stages: built.stages,
          k: built.manifest.privacy?.k ?? null,
          verified: built.verification.ok,
        }
      },
    ],
    [
      // A statistical table with disclosure control, as a signed package.
      'stats.query',
      async (job) => {
        const { buildStatistics, parseQuery } = await import('../release/index.js')
        const query = parseQuery(job.payload.query, `the query of job ${job.id}`)
        const result = await buildStatistics(await releaseBuildContext(runtime, undefined, job), query)
        return { ...result, project: query.project }
      },
    ],
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
      // Records held for their notice period are ingested once it has passed.
      name: 'intake.release-held',
      everyMs: 60 * 60 * 1000,
      alsoOnStop: false,
      // As a job (once per hour whichever worker comes first), since it reads the identity vault.
      run: async () => {
        const held = await runtime.db.kysely.selectFrom('intake.held_record').select('id').limit(1).execute()
        if (held.length === 0) return
        await enqueueJob(
          runtime.db.kysely,
          {
            kind: 'intake.release-held',
            idempotencyKey: `intake.release-held:${new Date().toISOString().slice(0, 13)}`,
          },
          { maxAttempts: runtime.config.jobs.maxAttempts },
        )
      },
    },
    {
      // Receipts are kept for their retention period (intake.receiptRetentionYears), then deleted.
      name: 'intake.purge-receipts',
      everyMs: 24 * 60 * 60 * 1000,
      alsoOnStop: false,
      run: async () => {
        const deleted = await purgeExpiredReceipts(runtime.db.kysely, new Date().toISOString().slice(0, 10))
        if (deleted > 0) await runtime.audit({ action: 'intake.receipts_purged', detail: { deleted } })
      },
    },
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
      onOrphansReleased: async (jobIds) => {
        for (const id of jobIds)
          await runtime.audit({
            action: 'job.resumed',
            target: `job:${id}`,
            detail: { reason: 'worker gone' },
          })
        await events?.onOrphansReleased?.(jobIds)
      },
      onJobProgress: events?.onJobProgress,
      onTaskFailed: events?.onTaskFailed,
      onLoopError: events?.onLoopError,
    },
  })
}

/**
 * Queues one job and runs the queue here until it is empty (a command on the core host, as
 * `tokumei link` does): the work runs as a job, so what it reads of the vault is read inside one.
 * Returns the job's result; a failed job is its error again (code and message as the job stored them).
 */
export async function runJobNow(
  runtime: Runtime,
  job: { readonly kind: string; readonly payload: Record<string, unknown> },
  events?: WorkerEvents,
): Promise<{ id: number; result: Record<string, unknown> }> {
  const { id } = await enqueueJob(runtime.db.kysely, job, { maxAttempts: 1 })
  await createWorker(runtime, events).run({ untilIdle: true })
  const row = await runtime.db.kysely
    .selectFrom('jobs.job')
    .select(['status', 'last_error', 'result'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow()
  if (row.status === 'done') return { id, result: (row.result ?? {}) as Record<string, unknown> }
  const stored = /^([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+): ([\s\S]*)$/.exec(row.last_error ?? '')
  if (stored) throw new TokumeiError(stored[2] as string, { code: stored[1] as string, kind: 'invalid' })
  throw new TokumeiError(
    `Job ${id} (${job.kind}) did not finish (${row.status}${row.last_error ? `: ${row.last_error}` : ''}); see \`tokumei jobs status\`.`,
    { code: 'jobs.failed', kind: 'internal' },
  )
}
