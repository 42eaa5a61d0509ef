/**
 * The one error type for everything a user, an operator or an outside system can cause.
 * `message` is a sentence the reader can act on; it never carries a name, address, phone,
 * patient ID or insurance number (privacy rule: errors reach logs and terminals).
 */
export type ErrorKind =
  /** Bad command-line usage, bad configuration or bad input data: exit 2, HTTP 400. */
  | 'invalid'
  /** A check ran and failed (tampered audit log, bad signature): exit 1, HTTP 409. */
  | 'check_failed'
  /** The thing asked for does not exist: exit 2, HTTP 404. */
  | 'not_found'
  /** Not authenticated: exit 2, HTTP 401. */
  | 'unauthenticated'
  /** Authenticated but not allowed: exit 2, HTTP 403. */
  | 'forbidden'
  /** Conflicts with the current state (already exists, wrong state): exit 2, HTTP 409. */
  | 'conflict'
  /** A dependency (the database, the key file) is unreachable or unusable: exit 2, HTTP 503. */
  | 'unavailable'
  /** Something that should never happen: exit 1, HTTP 500. */
  | 'internal'

const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  check_failed: 409,
  not_found: 404,
  unauthenticated: 401,
  forbidden: 403,
  conflict: 409,
  unavailable: 503,
  internal: 500,
}

const EXIT_CODE: Record<ErrorKind, number> = {
  invalid: 2,
  check_failed: 1,
  not_found: 2,
  unauthenticated: 2,
  forbidden: 2,
  conflict: 2,
  unavailable: 2,
  internal: 1,
}

export interface TokumeiErrorOptions {
  /** Machine-readable, stable, dotted: `config.invalid`, `crypto.decrypt_failed`. */
  readonly code: string
  readonly kind: ErrorKind
  /** Safe, non-personal context for logs and `--json` output (file, line, key, sequence number). */
  readonly details?: Readonly<Record<string, string | number | boolean | null>>
  readonly cause?: unknown
}

export class TokumeiError extends Error {
  readonly code: string
  readonly kind: ErrorKind
  readonly details: Readonly<Record<string, string | number | boolean | null>>

  constructor(message: string, options: TokumeiErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'TokumeiError'
    this.code = options.code
    this.kind = options.kind
    this.details = Object.freeze({ ...(options.details ?? {}) })
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.kind]
  }

  get exitCode(): number {
    return EXIT_CODE[this.kind]
  }

  toJSON(): { code: string; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details }
  }
}

export const isTokumeiError = (value: unknown): value is TokumeiError => value instanceof TokumeiError
