// The identity vault: personal data per patient per institution, encrypted, with the hospital's
// patient ID only as a keyed hash; refusals (提供停止) as tombstones. Only the core zone reads it, and
// nothing here ever writes a clear-text name to a log, an error or another schema.

export { LINK_STAGES } from './linkage/link.js'
export { areaOf, VariantTable } from './normalize/index.js'
export {
  decidePair,
  evaluateAgainstTruth,
  type LinkageContext,
  type LinkMode,
  type LinkRunOptions,
  type LinkRunSummary,
  type PairView,
  pairsToReview,
  type ReviewPair,
  runLinkage,
  viewPair,
} from './persons.js'
export {
  deleteVaultPatient,
  findOptOuts,
  findVaultPatients,
  hex,
  type IdentityWrite,
  localPatientHash,
  lockInstitutionVault,
  mergeIdentity,
  type OwnIdentifiers,
  ownIdentifiers,
  readAllIdentities,
  storeIdentities,
  type VaultPatient,
} from './vault.js'
