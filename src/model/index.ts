// The canonical types that readers produce and every module shares. Pure: no I/O, no database.
export { type ErrorKind, isTokumeiError, TokumeiError, type TokumeiErrorOptions } from './errors.js'
