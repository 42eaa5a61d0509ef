// FHIR R4 / JP Core resources (bulk NDJSON and Bundles) into the canonical model. Pure.
export {
  FHIR_SYSTEM,
  type FhirEntry,
  type FhirLine,
  FhirReadError,
  mapFhirResource,
  patientReference,
  readFhirBundle,
  readFhirNdjson,
} from './reader.js'
