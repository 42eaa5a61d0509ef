// SS-MIX2 standardized storage: layout, file names, ISO-2022-JP text, and the structure check.
// Pure: the callers read and write the files.
export { type CheckOptions, checkStorageFile, type StorageProblem } from './check.js'
export { type ReadSsmix2Options, readSsmix2Message, Ssmix2ReadError, type Ssmix2Record } from './reader.js'
export {
  DATA_TYPES,
  decodeIso2022jp,
  encodeIso2022jp,
  formatStorageFileName,
  isIso2022jpEncodable,
  parseStorageFileName,
  SSMIX2_PROFILE,
  type StorageFileName,
  storageRelativePath,
} from './storage.js'
