// Intake: institutions and their keys, submissions received by the gateway into an encrypted spool
// with signed receipts (受領記録), and the core's processing through the opt-out and notice gate into
// the vault and the clinical store. Never logs, stores or shows a patient's personal data in clear:
// quarantine entries name files by masked paths and problems by position.
export { checkRelativePath, detectFormat, displayPath, inflateFile } from './files.js'
export { earliestDate, type NoticeDecision, noticeDecision } from './gate.js'
export {
  addInstitution,
  apiKeyRefused,
  authenticateInstitutionKey,
  findInstitution,
  type Institution,
  type IssuedKey,
  listInstitutionKeys,
  listInstitutions,
  parseInstitutionCode,
  parseIsoDate,
  revokeInstitutionKey,
  rotateInstitutionKey,
  updateInstitution,
} from './institutions.js'
export {
  findSubmission,
  type Holding,
  type InstitutionHoldings,
  listQuarantine,
  listSubmissions,
  type QuarantineEntry,
  readHoldings,
  type SubmissionSummary,
  submissionNotFound,
} from './listing.js'
export { listOptOuts, type OptOutResult, registerOptOut } from './optout.js'
export {
  confirmOptOutRequest,
  findOptOutRequest,
  normalizePatientId,
  normalizeReceipt,
  type OptOutRequestContext,
  type OptOutRequestStatus,
  type OptOutRequestView,
  processOptOutRequest,
  submitOptOutRequest,
} from './optout-requests.js'
export { checkRecord, type ParsedItem, type Problem, parseSpoolFile } from './parse.js'
export {
  type CoreIntakeContext,
  type ProcessCounts,
  processSubmission,
  releaseHeldRecords,
} from './process.js'
export {
  canonicalJson,
  type FileOutcome,
  type IncomingFile,
  openSpoolItem,
  openSubmission,
  purgeExpiredReceipts,
  type Receipt,
  type ReceiveContext,
  readReceipt,
  receiveArchive,
  receiveFiles,
  sealSubmission,
  spooledFileDigest,
  verifyReceipt,
} from './receive.js'
