// DICOM Part 10 headers into the canonical model (identity and study location). Pure.
export { DicomReadError, type DicomRecord, readDicomHeader } from './reader.js'
