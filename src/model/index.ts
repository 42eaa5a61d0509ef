// The canonical types that readers produce and every module shares. Pure (no I/O, no database),
// except the one way every module starts its worker threads.
export { isCalendarDate, isoFromCompactDate } from './dates.js'
export { type ErrorKind, isTokumeiError, TokumeiError, type TokumeiErrorOptions } from './errors.js'
export { PREFECTURES, prefectureName, regionOf } from './japan.js'
export type { ClinicalItem, PatientIdentity, Sex, SourceRecord } from './records.js'
export { startWorkerBeside } from './threads.js'
