// The anonymization engine (structured data): tables, hierarchies, transforms, the privacy models,
// the optimal generalization search, risk, the statutory report and the independent verifier.
// Pure and database-free; it never sees a key but the release key it is handed, and never writes a
// value of a dropped column anywhere, not in an error either.
export {
  type AnonymizationReport,
  type AnonymizeOptions,
  anonymizeTable,
  type StatutoryMeasure,
} from './anonymize.js'
export { parseCsv, readCsvTable, sniffDelimiter, tableToCsv } from './csv.js'
export { DICOM_OPTIONS, type DicomOption } from './dicom/actions.js'
export { type DeidOptions, type DeidOutcome, deidentifyDicom, replacementUid } from './dicom/deid.js'
export type { BurnedInRule } from './dicom/pixels.js'
export type { PrivateAllowed } from './dicom/private.js'
export { PROFILE, PROFILE_SOURCE } from './dicom/profile.js'
export { readBurnedInRules, readPrivateAllowList } from './dicom/rules-file.js'
export { deidentifyTree, type TreeResult } from './dicom/tree.js'
export { checkDocument, readYamlDocument } from './document.js'
export { type AnonymizeFilesResult, anonymizeFiles } from './files.js'
export { readArxHierarchy } from './hierarchy/arx.js'
export {
  bindHierarchy,
  generatedHierarchy,
  type Hierarchy,
  suppressionHierarchy,
} from './hierarchy/hierarchy.js'
export { readKeyFile } from './key-file.js'
export { type Policy, parsePolicy, policyJsonSchema, readPolicy } from './policy/policy.js'
export { assessRisk, type RiskOptions, type RiskReport } from './risk/risk.js'
export { baseClasses, type Classes, rollUp } from './search/classes.js'
export { METRICS, type MetricName } from './search/metric.js'
export { type SearchInput, type SearchResult, searchOptimal } from './search/search.js'
export { encodeColumn, Table, tableFromRows, tableToRows } from './table.js'
export { evaluateScrub, type ScrubEvaluation } from './text/evaluate.js'
export { PARALLEL_FROM_TEXTS, type Scrubbed, type ScrubItem, scrubMany } from './text/parallel.js'
export {
  findSpans,
  findSpansWith,
  loadTokenizer,
  type PatientContext,
  type ScrubOptions,
  type Span,
  scrubText,
  scrubTextWith,
} from './text/scrub.js'
export { dateOffset, pseudonym, shiftDate } from './transform/transform.js'
export { type Verification, verifyAnonymization } from './verify/verify.js'
