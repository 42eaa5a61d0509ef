// The PostgreSQL-backed work queue (FOR UPDATE SKIP LOCKED, leases, retries with backoff,
// idempotency keys) and the worker loop. Job payloads hold ids only, never personal data.
export {
  claimJob,
  completeJob,
  countJobs,
  type EnqueueOptions,
  type EnqueueResult,
  enqueueJob,
  failJob,
  hasPendingWork,
  type Job,
  type JobCounts,
  retryDelayMs,
} from './queue.js'
export {
  describeFailure,
  type JobContext,
  type JobHandler,
  type PeriodicTask,
  Worker,
  type WorkerEvents,
  type WorkerOptions,
  type WorkerSummary,
} from './worker.js'
