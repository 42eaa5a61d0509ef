// The pseudonymous clinical store: rows keyed by patient_ref, the SS-MIX2 version log, the encrypted
// object store, and the holdings catalogue (保有状況). It never receives a name, an address, a phone
// number or a hospital patient ID: those stay in identity/.
export {
  ageAt,
  type Cohort,
  type CohortCriteria,
  type CohortPerson,
  type EventRow,
  type EventTable,
  readEvents,
  selectCohort,
} from './cohort.js'
export { ObjectStore } from './objects.js'
export {
  applySourceVersions,
  CLINICAL_TABLES,
  type ClinicalRow,
  type ClinicalTable,
  type Demographics,
  deletePatientData,
  documentContext,
  insertClinicalRows,
  refreshHoldings,
  upsertDemographics,
  type VersionedMessage,
  validDate,
  withholdPersonOf,
} from './store.js'
