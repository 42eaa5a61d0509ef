import { TokumeiError } from '../model/index.js'

/**
 * Turns a PostgreSQL error into a TokumeiError by its SQLSTATE. The server's own message is never
 * passed on: it can quote the values of a row ("Key (x)=(…) already exists"), and those may be
 * personal data. Unknown errors are returned unchanged for the caller's generic handling.
 */
export function fromDatabaseError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return error
  const make = (message: string, kind: TokumeiError['kind']) =>
    new TokumeiError(message, { code: `db.${code}`, kind, details: { sqlstate: code }, cause: error })
  if (code === '42501') {
    return make(
      'The database refused this operation to the role in use (permission denied): this zone may not do it, or it needs the owner connection (DATABASE_URL).',
      'forbidden',
    )
  }
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') {
    return make(
      'The connection to the database was lost: check that the server is running, then try again.',
      'unavailable',
    )
  }
  if (code.startsWith('53')) {
    return make(
      'The database server is out of resources (disk, memory or connections): ask its operator.',
      'unavailable',
    )
  }
  if (code === '40001' || code === '40P01') {
    return make('The database aborted this transaction because of a concurrent one: try again.', 'conflict')
  }
  return error
}
