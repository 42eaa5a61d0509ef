import type { Kysely } from 'kysely'
import type { Schema } from '../../db/index.js'
import { type AuditEvent, readAuditEvents } from './chain.js'

export interface TailOptions {
  /** How many of the newest events to show first. */
  readonly last: number
  /** Keep waiting for new events. */
  readonly follow: boolean
  readonly pollMs?: number
  readonly signal?: AbortSignal
}

/** The newest `last` events, then (with `follow`) every new one as it is appended. */
export async function* tailAuditEvents(db: Kysely<Schema>, options: TailOptions): AsyncGenerator<AuditEvent> {
  const newest = await db
    .selectFrom('audit.event')
    .select('seq')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst()
  let cursor = Math.max(0, (newest?.seq ?? 0) - options.last)
  for (;;) {
    const batch = await readAuditEvents(db, cursor, 500)
    for (const event of batch) {
      cursor = event.seq
      yield event
    }
    if (batch.length > 0) continue
    if (!options.follow || options.signal?.aborted) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.pollMs ?? 1000)
      options.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer)
          resolve()
        },
        { once: true },
      )
    })
    if (options.signal?.aborted) return
  }
}
