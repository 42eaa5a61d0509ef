import { BlockList, isIP } from 'node:net'
import { type Kysely, sql } from 'kysely'
import type { MonitorSettings } from '../../config/index.js'
import type { Schema } from '../../db/index.js'
import { TokumeiError } from '../../model/index.js'
import { type ApprovalContext, type ApprovalView, requestApproval } from '../approvals/approvals.js'
import { recordAuditEvent } from '../audit/index.js'
import type { Keyring } from '../crypto/index.js'
import { coveringEntry, type ScheduleEntry, scheduleNames, toScheduleEntry } from '../schedule/schedule.js'

/**
 * The monitor reads the audit log as it grows and applies its rules; a hit raises an alert and
 * blocks its subject — an account, an API key, a core-host operator or a client address — which every
 * sign-in, session, gateway request and core-host command checks. Lifting a block takes two different
 * people (`requestApproval` of kind `block.lift`). The monitor keeps its place in the log
 * (`governance.monitor_cursor`), so a restart neither misses nor repeats an event; it wakes on the
 * audit log's NOTIFY and looks again every second in any case.
 *
 * Rules:
 * - `failed-sign-ins` — repeated failed sign-ins (staff or API keys) from one address;
 * - `unknown-network` — a staff sign-in from outside `monitor.allowedNetworks`;
 * - `outside-schedule` — an action no entry of the access schedule covers;
 * - `volume` — an account or API key far busier than its own busiest window of the baseline period;
 * - `vault-read-outside-job` — identity-vault reads not made by a job that reads the vault.
 */
type Db = Kysely<Schema>

export interface MonitorContext {
  readonly db: Db
  readonly keyring: Keyring
  readonly settings: MonitorSettings
}

interface MonitoredEvent {
  readonly seq: number
  readonly at: Date
  readonly actor: string
  readonly action: string
  readonly outcome: string
  readonly detail: Record<string, unknown>
}

export interface Hit {
  readonly rule: string
  /** What is blocked (`account:…`, `key:…`, `os:…`, `source:…`), or the actor when nothing can be. */
  readonly subject: string
  readonly message: string
  /** False when the subject cannot be blocked (e.g. a system actor): the alert is raised alone. */
  readonly block: boolean
}

const FAILED_SIGN_INS = ['auth.login', 'auth.verify', 'gateway.auth']

/** Job kinds whose work reads the identity vault; a read by anything else is an alert. */
export const VAULT_READING_JOBS: readonly string[] = [
  'intake.process',
  'intake.release-held',
  'link.run',
  'release.build',
]

/** What blocking an audit actor stops: the account, the API key, or the core-host operator. */
export function blockSubject(actor: string): string | undefined {
  if (/^(account|os):.+$/.test(actor)) return actor
  const key = /^institution:[^/]+\/key:(.+)$/.exec(actor)
  return key ? `key:${key[1]}` : undefined
}

/** The allowed networks of a settings object, built once (settings never change while they live). */
const NETWORKS = new WeakMap<MonitorSettings, BlockList | undefined>()

function networks(settings: MonitorSettings): BlockList | undefined {
  if (NETWORKS.has(settings)) return NETWORKS.get(settings)
  const list = buildNetworks(settings)
  NETWORKS.set(settings, list)
  return list
}

function buildNetworks(settings: MonitorSettings): BlockList | undefined {
  if (settings.allowedNetworks.length === 0) return undefined
  const list = new BlockList()
  for (const cidr of settings.allowedNetworks) {
    const [address, prefix] = cidr.split('/') as [string, string]
    list.addSubnet(address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4')
  }
  return list
}

/** What one pass reads once: the schedule as it stood over the pass's events, and account roles. */
interface PassState {
  readonly allowed: BlockList | undefined
  readonly schedule: ReadonlyArray<ScheduleEntry & { removedAt: Date | null; created: Date }>
  readonly roles: Map<string, string[]>
}

async function loadPassState(db: Db, settings: MonitorSettings, since: Date): Promise<PassState> {
  const rows = await db
    .selectFrom('governance.schedule')
    .selectAll()
    .where((eb) => eb.or([eb('removed_at', 'is', null), eb('removed_at', '>', since)]))
    .execute()
  return {
    allowed: networks(settings),
    schedule: rows.map((r) => ({ ...toScheduleEntry(r), created: r.created_at, removedAt: r.removed_at })),
    roles: new Map(),
  }
}

async function rolesOf(db: Db, state: PassState, actor: string): Promise<string[]> {
  const username = actor.slice('account:'.length)
  let roles = state.roles.get(username)
  if (!roles) {
    const row = await db
      .selectFrom('governance.account')
      .select('roles')
      .where('username', '=', username)
      .executeTakeFirst()
    roles = row?.roles ?? []
    state.roles.set(username, roles)
  }
  return roles
}

/** The start of a subject's present judgement: events before its last lifted block were judged. */
const sinceLastLift = (subject: string) =>
  sql`coalesce((select max(lifted_at) from governance.block where subject = ${subject}), '-infinity')`

/** The rules that one event can trigger. */
async function evaluate(context: MonitorContext, state: PassState, event: MonitoredEvent): Promise<Hit[]> {
  const hits: Hit[] = []
  const source = typeof event.detail.source === 'string' ? event.detail.source : undefined
  if (FAILED_SIGN_INS.includes(event.action) && event.outcome === 'denied' && source) {
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from audit.event
      where action = any(${FAILED_SIGN_INS}::text[]) and outcome = 'denied' and detail->>'source' = ${source}
        and at > now() - make_interval(mins => ${context.settings.windowMinutes}) and seq <= ${event.seq}
        and at > ${sinceLastLift(`source:${source}`)}`.execute(context.db)
    const failures = rows[0]?.n ?? 0
    if (failures >= context.settings.failedLogins) {
      hits.push({
        rule: 'failed-sign-ins',
        subject: `source:${source}`,
        message: `${failures} failed sign-ins from ${source} within ${context.settings.windowMinutes} min`,
        block: true,
      })
    }
  }
  if (event.action === 'auth.login' && event.outcome === 'ok' && state.allowed && source) {
    const family = isIP(source) === 6 ? 'ipv6' : 'ipv4'
    if (isIP(source) === 0 || !state.allowed.check(source, family)) {
      hits.push({
        rule: 'unknown-network',
        subject: event.actor,
        message: `${event.actor} signed in from ${source}, outside the allowed networks`,
        block: true,
      })
    }
  }
  if (event.outcome === 'ok') {
    const roles = event.actor.startsWith('account:') ? await rolesOf(context.db, state, event.actor) : []
    const names = scheduleNames(event.actor, roles)
    if (names) {
      // The schedule as it stood when the event happened.
      const entries = state.schedule.filter(
        (e) => e.created <= event.at && (e.removedAt === null || e.removedAt > event.at),
      )
      if (!coveringEntry(entries, names, event.action, event.at, context.settings.timeZone)) {
        const subject = blockSubject(event.actor)
        hits.push({
          rule: 'outside-schedule',
          subject: subject ?? event.actor,
          message: `${event.actor} did ${event.action} at ${event.at.toISOString()}, outside the access schedule`,
          block: subject !== undefined,
        })
      }
    }
  }
  if (event.action === 'identity.read') {
    const job = Number(event.detail.job)
    const kind = String(event.detail.kind ?? '')
    let inJob = VAULT_READING_JOBS.includes(kind) && Number.isSafeInteger(job) && job > 0
    if (inJob) {
      const row = await context.db
        .selectFrom('jobs.job')
        .select('id')
        .where('id', '=', job)
        .where('kind', '=', kind)
        .where('status', '<>', 'queued')
        .executeTakeFirst()
      inJob = row !== undefined
    }
    if (!inJob) {
      const subject = blockSubject(event.actor)
      hits.push({
        rule: 'vault-read-outside-job',
        subject: subject ?? event.actor,
        message: `${event.actor} read ${Number(event.detail.patients) || 0} identities outside a job that reads the vault`,
        block: subject !== undefined,
      })
    }
  }
  return hits
}

/**
 * The volume rule, once per pass for each account and API key that acted in it: the actor's events
 * in the last window against `volumeFactor` × its busiest window of the baseline period (and at
 * least `volumeMinimum`).
 */
async function evaluateVolume(context: MonitorContext, actor: string): Promise<Hit | undefined> {
  const subject = blockSubject(actor)
  if (!subject || !/^(account|key):/.test(subject)) return undefined
  const { volumeMinimum, volumeFactor, baselineDays, windowMinutes } = context.settings
  const window = sql`make_interval(mins => ${windowMinutes})`
  const recent = await sql<{ n: number }>`
    select count(*)::int as n from audit.event
    where actor = ${actor} and at > now() - ${window} and at > ${sinceLastLift(subject)}`.execute(context.db)
  const count = recent.rows[0]?.n ?? 0
  if (count < volumeMinimum) return undefined
  const baseline = await sql<{ peak: number }>`
    select coalesce(max(n), 0)::int as peak from (
      select count(*) as n from audit.event
      where actor = ${actor} and at > now() - make_interval(days => ${baselineDays}) and at <= now() - ${window}
      group by date_bin(${window}, at, timestamptz '2000-01-01')) w`.execute(context.db)
  const peak = baseline.rows[0]?.peak ?? 0
  const threshold = Math.max(volumeMinimum, Math.ceil(volumeFactor * peak))
  if (count < threshold) return undefined
  return {
    rule: 'volume',
    subject,
    message: `${actor}: ${count} actions within ${windowMinutes} min, against a busiest window of ${peak} in the last ${baselineDays} days`,
    block: true,
  }
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
      .select(['seq', 'at', 'actor', 'action', 'outcome', 'detail'])
      .where('seq', '>', cursor.last_seq)
      .orderBy('seq')
      .limit(1000)
      .execute()
    if (events.length === 0) return []
    const passContext = { ...context, db: trx }
    const state = await loadPassState(trx, context.settings, (events[0] as { at: Date }).at)
    const raised: Array<Hit & { alertId: number }> = []
    const raise = async (hit: Hit, eventSeq: number) => {
      const recent = await trx
        .selectFrom('governance.alert as a')
        .leftJoin('governance.block as b', 'b.alert_id', 'a.id')
        .select('a.id')
        .where('a.subject', '=', hit.subject)
        .where((eb) =>
          hit.block
            ? eb.and([eb('b.id', 'is not', null), eb('b.lifted_at', 'is', null)])
            : // An actor that cannot be blocked is alerted once per rule and window, not once per event.
              eb.and([
                eb('a.rule', '=', hit.rule),
                eb('a.at', '>', sql<Date>`now() - make_interval(mins => ${context.settings.windowMinutes})`),
              ]),
        )
        .executeTakeFirst()
      if (recent) return
      const alert = await trx
        .insertInto('governance.alert')
        .values({ rule: hit.rule, subject: hit.subject, message: hit.message, event_seq: eventSeq })
        .returning('id')
        .executeTakeFirstOrThrow()
      let blockId: number | undefined
      if (hit.block) {
        const block = await trx
          .insertInto('governance.block')
          .values({ subject: hit.subject, alert_id: alert.id })
          .returning('id')
          .executeTakeFirstOrThrow()
        blockId = block.id
      }
      await recordAuditEvent(trx, context.keyring, {
        actor: 'system:monitor',
        action: hit.block ? 'monitor.block' : 'monitor.alert',
        target: blockId !== undefined ? `block:${blockId}` : `alert:${alert.id}`,
        outcome: 'ok',
        detail: { rule: hit.rule, subject: hit.subject, event: eventSeq },
      })
      raised.push({ ...hit, alertId: alert.id })
    }
    const lastSeqOf = new Map<string, number>()
    for (const row of events) {
      const event = { ...row, seq: Number(row.seq), detail: (row.detail ?? {}) as Record<string, unknown> }
      if (event.actor.startsWith('system:') && event.action.startsWith('monitor.')) continue
      for (const hit of await evaluate(passContext, state, event)) await raise(hit, event.seq)
      if (event.outcome === 'ok') lastSeqOf.set(event.actor, event.seq)
    }
    for (const [actor, seq] of lastSeqOf) {
      const hit = await evaluateVolume(passContext, actor)
      if (hit) await raise(hit, seq)
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

export interface MonitorLoopOptions {
  /** LISTEN on the audit log's channel (`TokumeiDatabase.listen`); without it the loop polls. */
  readonly listen?: (channel: string, onNotify: () => void) => Promise<() => Promise<void>>
  /** The longest wait between passes when no notification comes (default 1 000 ms). */
  readonly intervalMs?: number
  readonly onHit?: (hit: Hit) => void
  readonly onError?: (error: unknown) => void
  /** Posts alerts to `monitor.webhookUrl` (tests pass their own). */
  readonly fetch?: typeof fetch
}

/** The channel the audit log's trigger notifies on every append. */
export const AUDIT_CHANNEL = 'tokumei_audit'

/**
 * Runs the monitor until stopped: a pass whenever the audit log notifies an append (and at least
 * every `intervalMs`), each followed by the delivery of undelivered alerts to the webhook.
 */
export function startMonitor(
  context: MonitorContext,
  options: MonitorLoopOptions = {},
): { stop(): Promise<void> } {
  let stopped = false
  let pending = true
  let wake: (() => void) | undefined
  const notify = () => {
    pending = true
    wake?.()
  }
  const unlisten = options.listen?.(AUDIT_CHANNEL, notify).catch((error) => {
    options.onError?.(error)
    return undefined
  })
  const loop = (async () => {
    while (!stopped) {
      if (pending) {
        pending = false
        try {
          for (const hit of await runMonitorOnce(context)) options.onHit?.(hit)
          if (context.settings.webhookUrl) await deliverAlerts(context, options.fetch ?? fetch)
        } catch (error) {
          options.onError?.(error)
        }
      }
      if (stopped) break
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          pending = true
          resolve()
        }, options.intervalMs ?? 1000)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
        if (pending || stopped) wake()
      })
      wake = undefined
    }
  })()
  let stopping: Promise<void> | undefined
  return {
    stop() {
      stopping ??= (async () => {
        stopped = true
        wake?.()
        await loop
        await (await unlisten)?.()
      })()
      return stopping
    },
  }
}

const MAX_DELIVERY_ATTEMPTS = 5

/**
 * Posts every undelivered alert to `monitor.webhookUrl` as JSON, oldest first. An alert is claimed
 * first (its attempt counted, in a short transaction — no connection is held while posting), then
 * posted, then marked delivered; a failure is recorded and retried 20 s, 40 s, 80 s and 160 s after
 * the alert (5 attempts). Returns how many were delivered.
 */
export async function deliverAlerts(context: MonitorContext, post: typeof fetch = fetch): Promise<number> {
  const url = context.settings.webhookUrl
  if (!url) return 0
  let delivered = 0
  for (;;) {
    const claimed = await context.db
      .updateTable('governance.alert')
      .set((eb) => ({ delivery_attempts: eb('delivery_attempts', '+', 1) }))
      .where(
        'id',
        '=',
        sql<number>`(select id from governance.alert
          where delivered_at is null and delivery_attempts < ${MAX_DELIVERY_ATTEMPTS}
            and (delivery_attempts = 0 or at < now() - make_interval(secs => 10 * power(2, delivery_attempts)))
          order by id limit 1 for update skip locked)`,
      )
      .returning(['id', 'at', 'rule', 'subject', 'message'])
      .executeTakeFirst()
    if (!claimed) return delivered
    const block = await context.db
      .selectFrom('governance.block')
      .select('id')
      .where('alert_id', '=', claimed.id)
      .executeTakeFirst()
    let error: string | null = null
    try {
      const response = await post(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          source: 'tokumei',
          alert: claimed.id,
          at: claimed.at.toISOString(),
          rule: claimed.rule,
          subject: claimed.subject,
          message: claimed.message,
          block: block?.id ?? null,
        }),
        signal: AbortSignal.timeout(5000),
      })
      if (!response.ok) error = `HTTP ${response.status}`
    } catch (failure) {
      error = failure instanceof Error ? failure.message : String(failure)
    }
    await context.db
      .updateTable('governance.alert')
      .set({ delivered_at: error === null ? sql<Date>`now()` : null, delivery_error: error })
      .where('id', '=', claimed.id)
      .execute()
    if (error === null) delivered++
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
  /** The webhook's delivery: `delivered`, `failed: …` (retried), or null when none is configured yet. */
  readonly delivery: string | null
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
      'a.delivered_at',
      'a.delivery_error',
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
    delivery: r.delivered_at ? 'delivered' : r.delivery_error ? `failed: ${r.delivery_error}` : null,
  }))
}

/**
 * Asks for a block's lift: a two-person request (`block.lift`) that another person approves with
 * `approveRequest` and `liftBlock`. Returns the request.
 */
/** What an officer may block by hand: an account, an institution's API key, or a client address. */
const BLOCKABLE = /^(account:[A-Za-z0-9._-]{1,64}|key:[A-Za-z0-9_-]{1,64}|source:[0-9A-Fa-f:.]{2,45})$/

/**
 * An officer's block, at once (the same block the monitor makes: sessions end, sign-in and the
 * gateway refuse the subject), with an alert saying who and why; lifting it takes two people as ever.
 */
export async function blockManually(
  context: ApprovalContext,
  input: { subject: string; reason: string },
): Promise<{ id: number; alert: number; subject: string }> {
  const subject = input.subject.trim()
  if (!BLOCKABLE.test(subject) || (subject.startsWith('source:') && isIP(subject.slice(7)) === 0))
    throw new TokumeiError(
      'Only an account (account:NAME), an API key (key:ID) or a client address (source:IP) can be blocked.',
      { code: 'block.bad_subject', kind: 'invalid' },
    )
  if (subject.toLowerCase() === context.actor.toLowerCase())
    throw new TokumeiError('You cannot block your own account: ask another officer.', {
      code: 'block.self',
      kind: 'conflict',
    })
  const reason = input.reason.trim()
  if (reason === '' || reason.length > 500)
    throw new TokumeiError('Give the reason for the block in 1 to 500 characters.', {
      code: 'block.no_reason',
      kind: 'invalid',
    })
  return context.db.transaction().execute(async (trx) => {
    const active = await trx
      .selectFrom('governance.block')
      .select('id')
      .where('subject', '=', subject)
      .where('lifted_at', 'is', null)
      .executeTakeFirst()
    if (active)
      throw new TokumeiError(`${subject} is blocked already (block ${active.id}).`, {
        code: 'block.exists',
        kind: 'conflict',
      })
    const event = await recordAuditEvent(trx, context.keyring, {
      actor: context.actor,
      action: 'block.manual',
      target: subject,
      detail: {},
    })
    const alert = await trx
      .insertInto('governance.alert')
      .values({
        rule: 'manual',
        subject,
        message: `${context.actor} blocked ${subject}: ${reason}`,
        event_seq: Number(event.seq),
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    const block = await trx
      .insertInto('governance.block')
      .values({ subject, alert_id: alert.id })
      .returning('id')
      .executeTakeFirstOrThrow()
    return { id: block.id, alert: alert.id, subject }
  })
}

export async function requestLift(context: ApprovalContext, blockId: number): Promise<ApprovalView> {
  return context.db.transaction().execute(async (trx) => {
    const block = await trx
      .selectFrom('governance.block')
      .select(['id', 'lifted_at'])
      .where('id', '=', blockId)
      .forUpdate()
      .executeTakeFirst()
    if (!block || block.lifted_at !== null)
      throw new TokumeiError(`No active block ${blockId}: see \`tokumei alerts\`.`, {
        code: 'block.not_found',
        kind: 'not_found',
      })
    const request = await requestApproval(context, { kind: 'block.lift', target: `block:${blockId}` }, trx)
    await trx
      .updateTable('governance.block')
      .set({ lift_requested_by: context.actor, lift_requested_at: sql`now()` })
      .where('id', '=', blockId)
      .execute()
    return request
  })
}

/** The approved lift of a block (run by `approveRequest` in its transaction). */
export async function liftBlock(
  db: Db,
  keyring: Keyring,
  request: ApprovalView,
): Promise<Record<string, unknown>> {
  const blockId = Number(request.target.replace(/^block:/, ''))
  const approver = request.approvedBy ?? 'unknown'
  const lifted = await db
    .updateTable('governance.block')
    .set({ lift_requested_by: request.requestedBy, lifted_by: approver, lifted_at: sql`now()` })
    .where('id', '=', blockId)
    .where('lifted_at', 'is', null)
    .returning('subject')
    .executeTakeFirst()
  if (!lifted)
    throw new TokumeiError(`Block ${blockId} is lifted already.`, {
      code: 'block.not_found',
      kind: 'not_found',
    })
  await recordAuditEvent(db, keyring, {
    actor: approver,
    action: 'block.lifted',
    target: `block:${blockId}`,
    detail: { subject: lifted.subject, requested_by: request.requestedBy },
  })
  return { block: blockId, subject: lifted.subject }
}
