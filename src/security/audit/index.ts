// The append-only, hash-chained audit log: one entry point (`recordAuditEvent`), signed checkpoints,
// an independent verifier and a live tail. It never stores personal data.
export {
  type AuditEvent,
  type AuditEventInput,
  canonicalDetail,
  GENESIS_HASH,
  readAuditEvents,
  recordAuditEvent,
} from './chain.js'
export { type TailOptions, tailAuditEvents } from './tail.js'
export {
  type AuditProblem,
  type AuditProblemKind,
  type AuditVerification,
  type Checkpoint,
  verifyAuditLog,
  writeCheckpoint,
} from './verify.js'
