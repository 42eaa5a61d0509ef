import { BlockList, isIP } from 'node:net'
import { type Kysely, sql } from 'kysely'
import type { MonitorSettings } from '../../config/index.js'
import type { Schema } from '../../db/index.js'
import { TokumeiError } from '../../model/index.js'
import { type AuditEventInput, recordAuditEvent } from '../audit/index.js'
import type { Keyring } from '../crypto/index.js'

/**
 * The monitor reads the audit log as it grows and applies its rules; a hit raises an alert and
 * blocks its subject — an account, an API key or a client address — which every sign-in, session and
 * gateway request checks. Lifting a block takes two different people. The monitor keeps its place in
 * the log (`governance.monitor_cursor`), so a restart neither misses nor repeats an event.
 *
 * Rules here: repeated failed sign-ins (staff or API keys) from one address; a staff sign-in from a
 * network outside `monitor.allowedNetworks`. Later rules (schedule, volume, vault reads, downloads)
 * follow the same shape.
 */
type Db = Kysely<Schema>

export interface MonitorContext {
  readonly db: Db
  readonly keyring: Keyring
  readonly settings: MonitorSettings
}

interface MonitoredEvent {
  readonly seq: number
  readonly actor: string
  readonly action: string
  readonly outcome: string
  readonly detail: Record<string, unknown>
}

export interface Hit {
  readonly rule: string
  readonly subject: string
  readonly message: string
}

const FAILED_SIGN_INS = ['auth.login', 'gateway.auth']

function networks(settings: MonitorSettings): BlockList | undefined {
  if (settings.allowedNetworks.length === 0) return undefined
  const list = new BlockList()
  for (const cidr of settings.allowedNetworks) {
    const [address, prefix] = cidr.split('/') as [string, string]
    list.addSubnet(address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4')
  }
  return list
}

/** The rules that one event can trigger. */
async function evaluate(context: MonitorContext, event: MonitoredEvent, allowed?: BlockList): Promise<Hit[]> {
  const hits: Hit[] = []
  const source = typeof event.detail.source === 'string' ? event.detail.source : undefined
  if (FAILED_SIGN_INS.includes(event.action) && event.outcome === 'denied' && source) {
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from audit.event
      where action = any(${FAILED_SIGN_INS}::text[]) and outcome = 'denied' and detail->>'source' = ${source}
        and at > now() - make_interval(mins => ${context.settings.windowMinutes}) and seq <= ${event.seq}
        -- Failures before a lifted block were judged already.
        and at > coalesce((select max(lifted_at) from governance.block where subject = ${`source:${source}`}), '-infinity')`.execute(
      context.db,
    )
    const failures = rows[0]?.n ?? 0
    if (failures >= context.settings.failedLogins) {
      hits.push({
        rule: 'failed-sign-ins',
        subject: `source:${source}`,
        message: `${failures} failed sign-ins from ${source} within ${context.settings.windowMinutes} min`,
      })
    }
  }
  if (event.action === 'auth.login' && event.outcome === 'ok' && allowed && source) {
    const family = isIP(source) === 6 ? 'ipv6' : 'ipv4'
    if (isIP(source) === 0 || !allowed.check(source, family)) {
      hits.push({
        rule: 'unknown-network',
        subject: event.actor,
        message: `${event.actor} signed in from ${source}, outside the allowed networks`,
      })
    }
  }
  return hits
}

/**
 * Applies the rules to the events written since the last pass, in order; each hit's alert, block and
 * audit event are written with the cursor in one transaction. Returns the new hits.
 */
export async function runMonitorOnce(context: MonitorContext): Promise<Array<Hit & { alertId: number }>> {
  return context.db.transaction().execute(async (trx) => {
    // One monitor at a time: a second process waits here and then sees the first one's cursor.
    await sql`select pg_advisory_xact_lock(${MONITOR_LOCK}::int, 0)`.execute(trx)
    const cursor = await trx
      .selectFrom('governance.monitor_cursor')
      .select('last_seq')
      .where('name', '=', 'monitor')
      .executeTakeFirst()
    if (!cursor) {
      // A new monitor starts at the present: history was not its to judge.
      const head = await trx
        .selectFrom('audit.event')
        .select(sql<number>`coalesce(max(seq), 0)`.as('seq'))
        .executeTakeFirstOrThrow()
      await trx
        .insertInto('governance.monitor_cursor')
        .values({ name: 'monitor', last_seq: Number(head.seq) })
        .execute()
      return []
    }
    const events = await trx
      .selectFrom('audit.event')
      .select(['seq', 'actor', 'action', 'outcome', 'detail'])
      .where('seq', '>', cursor.last_seq)
      .orderBy('seq')
      .limit(1000)
      .execute()
    if (events.length === 0) return []
    const allowed = networks(context.settings)
    const raised: Array<Hit & { alertId: number }> = []
    for (const row of events) {
      const event = { ...row, seq: Number(row.seq), detail: (row.detail ?? {}) as Record<string, unknown> }
      if (event.action.startsWith('monitor.')) continue
      for (const hit of await evaluate({ ...context, db: trx }, event, allowed)) {
        const active = await trx
          .selectFrom('governance.block')
          .select('id')
          .where('subject', '=', hit.subject)
          .where('lifted_at', 'is', null)
          .executeTakeFirst()
        if (active) continue
        const alert = await trx
          .insertInto('governance.alert')
          .values({ rule: hit.rule, subject: hit.subject, message: hit.message, event_seq: event.seq })
          .returning('id')
          .executeTakeFirstOrThrow()
        const block = await trx
          .insertInto('governance.block')
          .values({ subject: hit.subject, alert_id: alert.id })
          .returning('id')
          .executeTakeFirstOrThrow()
        await recordAuditEvent(trx, context.keyring, {
          actor: 'system:monitor',
          action: 'monitor.block',
          target: `block:${block.id}`,
          outcome: 'ok',
          detail: { rule: hit.rule, subject: hit.subject, event: event.seq },
        })
        raised.push({ ...hit, alertId: alert.id })
      }
    }
    await trx
      .updateTable('governance.monitor_cursor')
      .set({ last_seq: Number((events.at(-1) as { seq: number }).seq) })
      .where('name', '=', 'monitor')
      .execute()
    return raised
  })
}

/** The advisory lock class of the monitor's pass. */
const MONITOR_LOCK = 0x746b_0003

/**
 * Runs the monitor every `intervalMs` until stopped (a hit blocks within one interval and one pass).
 * `onError` hears failed passes; the loop keeps going.
 */
export function startMonitor(
  context: MonitorContext,
  options: { intervalMs?: number; onHit?: (hit: Hit) => void; onError?: (error: unknown) => void } = {},
): { stop(): Promise<void> } {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  const pass = async () => {
    try {
      for (const hit of await runMonitorOnce(context)) options.onHit?.(hit)
    } catch (error) {
      options.onError?.(error)
    }
    if (!stopped) timer = setTimeout(tick, options.intervalMs ?? 250)
  }
  const tick = () => {
    running = pass()
  }
  tick()
  return {
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
  }
}

/** Which of these subjects (`account:…`, `key:…`, `source:…`) are blocked now. */
export async function blockedSubjects(db: Db, subjects: readonly string[]): Promise<Set<string>> {
  const wanted = subjects.filter((s) => s !== '')
  if (wanted.length === 0) return new Set()
  const rows = await db
    .selectFrom('governance.block')
    .select('subject')
    .where('subject', 'in', wanted)
    .where('lifted_at', 'is', null)
    .execute()
  return new Set(rows.map((r) => r.subject))
}

export interface AlertView {
  readonly id: number
  readonly at: string
  readonly rule: string
  readonly subject: string
  readonly message: string
  readonly block: { readonly id: number; readonly state: 'active' | 'lift requested' | 'lifted' } | null
}

export async function listAlerts(db: Db, limit = 100): Promise<AlertView[]> {
  const rows = await db
    .selectFrom('governance.alert as a')
    .leftJoin('governance.block as b', 'b.alert_id', 'a.id')
    .select([
      'a.id',
      'a.at',
      'a.rule',
      'a.subject',
      'a.message',
      'b.id as block_id',
      'b.lift_requested_at',
      'b.lifted_at',
    ])
    .orderBy('a.id', 'desc')
    .limit(limit)
    .execute()
  return rows.map((r) => ({
    id: r.id,
    at: r.at.toISOString(),
    rule: r.rule,
    subject: r.subject,
    message: r.message,
    block:
      r.block_id === null
        ? null
        : {
            id: r.block_id,
            state: r.lifted_at ? 'lifted' : r.lift_requested_at ? 'lift requested' : 'active',
          },
  }))
}

/**
 * One person's vote to lift a block. The first vote records the request; a second vote by someone
 * else lifts it. Returns the state after this vote.
 */
export async function voteToLift(
  db: Db,
  keyring: Keyring,
  input: { blockId: number; actor: string },
): Promise<'lift requested' | 'lifted'> {
  return db.transaction().execute(async (trx) => {
    const block = await trx
      .selectFrom('governance.block')
      .select(['id', 'subject', 'lift_requested_by', 'lifted_at'])
      .where('id', '=', input.blockId)
      .forUpdate()
      .executeTakeFirst()
    if (!block || block.lifted_at !== null)
      throw new TokumeiError(`No active block ${input.blockId}: see \`tokumei alerts\`.`, {
        code: 'block.not_found',
        kind: 'not_found',
      })
    const audit = (event: Omit<AuditEventInput, 'actor'>) =>
      recordAuditEvent(trx, keyring, { ...event, actor: input.actor })
    if (block.lift_requested_by === null) {
      await trx
        .updateTable('governance.block')
        .set({ lift_requested_by: input.actor, lift_requested_at: sql`now()` })
        .where('id', '=', block.id)
        .execute()
      await audit({ action: 'block.lift_requested', target: `block:${block.id}` })
      return 'lift requested'
    }
    if (block.lift_requested_by === input.actor)
      throw new TokumeiError(
        `Block ${block.id}: you asked for the lift already; it needs a second person's approval.`,
        { code: 'block.same_person', kind: 'forbidden' },
      )
    await trx
      .updateTable('governance.block')
      .set({ lifted_by: input.actor, lifted_at: sql`now()` })
      .where('id', '=', block.id)
      .execute()
    await audit({ action: 'block.lifted', target: `block:${block.id}`, detail: { subject: block.subject } })
    return 'lifted'
  })
}
