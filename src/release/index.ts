// Provision: projects, their review and contracts; release builds from the clinical store through
// the anonymization engine into signed packages; their delivery, tracing and publication checks.
// It never imports identity: a document's patient identifiers reach it only as a function the
// composition root hands over, and nothing here writes a clear-text identifier to a log or error.
export {
  type BuildContext,
  type BuildResult,
  buildRelease,
  markOf,
  releaseKey,
  type StageTiming,
} from './build.js'
export {
  createDelivery,
  type DeliveryContext,
  type DeliveryView,
  decryptPackage,
  encryptPackage,
  generateRecipientKeys,
  listDeliveries,
  recipientKeyId,
  takeDownload,
  tarDirectory,
  untar,
} from './delivery.js'
export {
  APPLICATION_SCHEMA,
  type Application,
  activeContract,
  amendProject,
  applyForProject,
  CONTRACT_BANS,
  CONTRACT_SCHEMA,
  type ContractTerms,
  type ContractView,
  certifyDestruction,
  DESTRUCTION_SCHEMA,
  endContract,
  findContract,
  findProject,
  type GovernanceContext,
  listContracts,
  listProjects,
  type ProjectView,
  reviewProject,
  signContract,
  withdrawProject,
} from './governance.js'
export { canonicalJson, type Manifest, readManifest } from './package.js'
export { findPolicy, listPolicies, type PolicySummary, storePolicy } from './policies.js'
export { checkPublication, findSmallCells, type PublicationCheck } from './publication.js'
export {
  defaultPersonsPolicy,
  type NamedPolicy,
  parseSpec,
  RELEASE_TABLES,
  type ReleaseSpec,
  readSpec,
  SPEC_SCHEMA,
} from './spec.js'
export { buildStatistics, parseQuery, type StatisticsResult } from './statistics.js'
export { type TraceResult, traceFile } from './trace.js'
export { type PackageVerification, verifyPackage } from './verify.js'
