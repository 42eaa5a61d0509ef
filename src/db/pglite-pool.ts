import type { PGlite } from '@electric-sql/pglite'
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely'

/**
 * Presents one embedded PGlite instance as the `pg` pool that Kysely's PostgresDialect expects, so
 * both dialects share Kysely's PostgreSQL adapter, compiler and introspector. PGlite is a single
 * connection: a client is lent to one borrower at a time (a transaction keeps it until commit), and
 * the others wait their turn in order.
 */
export class PGlitePool implements PostgresPool {
  readonly #pglite: PGlite
  #tail: Promise<void> = Promise.resolve()
  #ended = false

  constructor(pglite: PGlite) {
    this.#pglite = pglite
  }

  async connect(): Promise<PostgresPoolClient> {
    if (this.#ended) throw new Error('the embedded database has been closed')
    let release!: () => void
    const turn = new Promise<void>((resolve) => {
      release = resolve
    })
    const previous = this.#tail
    this.#tail = previous.then(() => turn)
    await previous
    const pglite = this.#pglite
    let released = false
    const client = {
      async query<R>(sqlText: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
        if (parameters.length === 0) {
          // Parameterless text may hold several statements (migrations): the simple protocol runs them all.
          const results = await pglite.exec(sqlText)
          const last = results.at(-1)
          return {
            command: commandOf(sqlText, last?.command),
            rowCount: last?.affectedRows ?? 0,
            rows: (last?.rows ?? []) as R[],
          }
        }
        const result = await pglite.query<R>(sqlText, [...parameters])
        return {
          command: commandOf(sqlText, (result as { command?: string }).command),
          rowCount: result.affectedRows ?? 0,
          rows: result.rows,
        }
      },
      release() {
        if (released) return
        released = true
        release()
      },
    }
    // The cursor overload of `query` is left out: streaming reads are not offered on the embedded database.
    return client as unknown as PostgresPoolClient
  }

  /**
   * LISTEN on a channel, taking a turn like any borrower (a LISTEN issued in the middle of another
   * borrower's transaction would join it). Returns the UNLISTEN.
   */
  async listen(channel: string, onNotify: () => void): Promise<() => Promise<void>> {
    const turn = await this.connect()
    let unlisten: () => Promise<void>
    try {
      unlisten = await this.#pglite.listen(channel, () => onNotify())
    } finally {
      turn.release()
    }
    let done = false
    return async () => {
      if (done || this.#ended) return
      done = true
      const again = await this.connect()
      try {
        await unlisten()
      } finally {
        again.release()
      }
    }
  }

  async end(): Promise<void> {
    if (this.#ended) return
    this.#ended = true
    await this.#tail
    await this.#pglite.close()
  }
}

const COMMANDS = ['UPDATE', 'DELETE', 'INSERT', 'SELECT', 'MERGE', 'COMMIT', 'ROLLBACK'] as const
type Command = (typeof COMMANDS)[number]

function commandOf(sqlText: string, reported: string | undefined): Command {
  const word = (reported ?? sqlText.trimStart().split(/\s/, 1)[0] ?? '').toUpperCase()
  return (COMMANDS as readonly string[]).includes(word) ? (word as Command) : 'SELECT'
}
