import type { FastifyPluginAsync } from 'fastify'
import { sql } from 'kysely'
import { checkDocument } from '../../anonymize/index.js'
import { selectCohort } from '../../clinical/index.js'
import {
  type CoreIntakeContext,
  confirmOptOutRequest,
  listOptOuts,
  listQuarantine,
  listSubmissions,
  readHoldings,
} from '../../intake/index.js'
import { coreIntakeContext, type Runtime } from '../../runtime/index.js'
import type { Session } from '../../security/index.js'
import { COHORT_SCHEMA } from '../../stats/index.js'

/**
 * What the agency's staff watch in the core zone, for the web console: the day's intake, the
 * quarantine, jobs at work, the holdings per institution by month, the opt-out registry with what each
 * refusal has reached, and a cohort's size while a release spec is being written. Counts and codes
 * only: nothing here names or identifies a patient.
 */
const STAFF = {
  roles: [
    'admin',
    'intake_operator',
    'linkage_reviewer',
    'anonymization_engineer',
    'reviewer',
    'security_officer',
  ],
} as const
const INTAKE = { roles: ['admin', 'intake_operator', 'security_officer'] } as const
const BUILDERS = { roles: ['admin', 'anonymization_engineer'] } as const

/** The months a holdings chart shows, up to the institution's latest month of data. */
const MONTHS = 24

const limitQuery = (max: number, fallback: number) =>
  ({
    type: 'object',
    additionalProperties: false,
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: max, default: fallback },
      institution: { type: 'string', pattern: '^\\d{10}$' },
    },
  }) as const

export const operationsRoutes: FastifyPluginAsync<{ runtime: Runtime }> = async (app, { runtime }) => {
  const db = runtime.db.kysely

  app.get(
    '/overview',
    {
      config: { access: STAFF },
      schema: {
        tags: ['operations'],
        summary: "Today's submissions, the quarantine, alerts, jobs in progress and pairs to review (counts)",
      },
    },
    async () => {
      const [today, quarantine, jobs, active, alerts, pairs] = await Promise.all([
        db
          .selectFrom('intake.submission')
          .select([
            sql<number>`count(*)::int`.as('submissions'),
            sql<number>`coalesce(sum(files), 0)::int`.as('files'),
            sql<number>`count(*) filter (where status = 'processed')::int`.as('processed'),
            sql<number>`coalesce(sum((counts->>'quarantined')::int), 0)::int`.as('quarantined'),
          ])
          .where('created_at', '>=', sql<Date>`date_trunc('day', now())`)
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('intake.quarantine')
          .select([
            sql<number>`count(*)::int`.as('total'),
            sql<number>`count(*) filter (where created_at >= date_trunc('day', now()))::int`.as('today'),
          ])
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('jobs.job')
          .select([
            sql<number>`count(*) filter (where status = 'queued')::int`.as('queued'),
            sql<number>`count(*) filter (where status = 'running')::int`.as('running'),
            sql<number>`count(*) filter (where status = 'failed' and finished_at >= now() - interval '1 day')::int`.as(
              'failed',
            ),
          ])
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('jobs.job')
          .select(['id', 'kind', 'status', 'progress', 'created_at', 'started_at'])
          .where('status', 'in', ['queued', 'running'])
          .orderBy('id')
          .limit(20)
          .execute(),
        db
          .selectFrom('governance.alert as a')
          .leftJoin('governance.block as b', 'b.alert_id', 'a.id')
          .select([
            sql<number>`count(*) filter (where a.at >= date_trunc('day', now()))::int`.as('today'),
            sql<number>`count(b.id) filter (where b.lifted_at is null)::int`.as('activeBlocks'),
          ])
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('identity.link_pair')
          .select(sql<number>`count(*)::int`.as('n'))
          .where('state', '=', 'review')
          .executeTakeFirstOrThrow(),
      ])
      return {
        today,
        quarantine: {
          ...quarantine,
          latest: (await listQuarantine(db, { limit: 1000 })).slice(-5).reverse(),
        },
        jobs: {
          ...jobs,
          active: active.map((j) => ({
            id: j.id,
            kind: j.kind,
            status: j.status,
            progress: j.progress,
            created: j.created_at,
            started: j.started_at,
          })),
        },
        alerts,
        linkage: { toReview: pairs.n },
      }
    },
  )

  app.get(
    '/institutions',
    {
      config: { access: STAFF },
      schema: {
        tags: ['operations'],
        summary: 'Per institution: data categories, patients and records by month, last submission',
      },
    },
    async () => {
      const holdings = await readHoldings(db)
      const monthly = await sql<{ institution: string; month: string; patients: number; records: number }>`
        with event as (
          select institution_id, patient_ref, date from clinical.encounter
          union all select institution_id, patient_ref, coalesce(onset, recorded) from clinical.condition
          union all select institution_id, patient_ref, date from clinical.medication
          union all select institution_id, patient_ref, month from clinical.procedure
          union all select institution_id, patient_ref, date from clinical.lab
          union all select institution_id, patient_ref, date from clinical.clinical_order
          union all select institution_id, patient_ref, date from clinical.imaging
          union all select institution_id, patient_ref, date from clinical.document
        )
        , latest as (
          select institution_id, date_trunc('month', max(date)) as month from event where date <= now() group by 1
        )
        select i.code as institution, to_char(date_trunc('month', e.date), 'YYYY-MM') as month,
               count(distinct e.patient_ref)::int as patients, count(*)::int as records
        from event e
        join latest l on l.institution_id = e.institution_id
        join governance.institution i on i.id = e.institution_id
        where e.date >= l.month - make_interval(months => ${MONTHS - 1}) and e.date <= now()
        group by 1, 2 order by 1, 2`.execute(db)
      return {
        institutions: holdings.map((h) => ({
          ...h,
          monthly: monthly.rows
            .filter((m) => m.institution === h.institution)
            .map(({ month, patients, records }) => ({ month, patients, records })),
        })),
      }
    },
  )

  app.get(
    '/submissions',
    {
      config: { access: INTAKE },
      schema: {
        tags: ['operations'],
        summary: 'Submissions and their receipts (counts), newest first; of one institution if asked',
        querystring: limitQuery(500, 50),
      },
    },
    async (request) => {
      const { limit, institution } = request.query as { limit: number; institution?: string }
      const institutionId = institution
        ? ((
            await db
              .selectFrom('governance.institution')
              .select('id')
              .where('code', '=', institution)
              .executeTakeFirst()
          )?.id ?? -1)
        : undefined
      return {
        submissions: await listSubmissions(db, { limit, institutionId }),
        quarantine: await listQuarantine(db, { limit: 200, institutionId }),
      }
    },
  )

  app.get(
    '/optouts',
    {
      config: { access: INTAKE },
      schema: {
        tags: ['operations'],
        summary: 'The opt-out registry (提供停止) and how far each refusal has reached',
      },
    },
    async () => {
      const [registry, releases, requests] = await Promise.all([
        listOptOuts(db),
        db.selectFrom('governance.release').select(['finished_at']).where('state', '=', 'built').execute(),
        db
          .selectFrom('governance.optout_request as r')
          .innerJoin('governance.institution as i', 'i.id', 'r.institution_id')
          .select(['r.receipt', 'i.code', 'r.status', 'r.received_at', 'r.done_at', 'r.optout_id'])
          .orderBy('r.id', 'desc')
          .limit(500)
          .execute(),
      ])
      const built = releases.flatMap((r) => (r.finished_at ? [r.finished_at.getTime()] : []))
      return {
        optouts: registry.map((o) => {
          const at = Date.parse(o.registeredAt)
          return {
            ...o,
            propagation: {
              // The tombstone stops every later intake; the deletion ran in the registering transaction.
              intakeStopped: true,
              storeDeleted: true,
              // Packages built before the refusal may hold the person; every later one cannot.
              releasesBefore: built.filter((t) => t < at).length,
              releasesAfter: built.filter((t) => t >= at).length,
            },
          }
        }),
        requests: requests.map((r) => ({
          receipt: r.receipt,
          institution: r.code,
          status: r.status,
          receivedAt: r.received_at.toISOString(),
          doneAt: r.done_at?.toISOString() ?? null,
          optout: r.optout_id,
        })),
      }
    },
  )

  app.post(
    '/optout-requests/:receipt/confirm',
    {
      config: { access: { roles: ['admin', 'intake_operator'] } },
      schema: {
        tags: ['operations'],
        summary: 'Register an unconfirmed 提供停止 request once the institution has confirmed the person',
        params: {
          type: 'object',
          required: ['receipt'],
          additionalProperties: false,
          properties: { receipt: { type: 'string', minLength: 12, maxLength: 40 } },
        },
      },
    },
    async (request) => {
      const actor = `account:${(request.session as Session).account.username}`
      // The operator confirms: the registration and its audit events are theirs.
      const context: CoreIntakeContext = {
        ...coreIntakeContext(runtime),
        actor,
        audit: (event) => runtime.audit({ ...event, actor }),
      }
      return { request: await confirmOptOutRequest(context, (request.params as { receipt: string }).receipt) }
    },
  )

  app.post(
    '/cohort-count',
    {
      config: { access: BUILDERS },
      schema: {
        tags: ['operations'],
        summary: 'The number of persons a cohort holds (for the release builder; audited)',
        body: {
          type: 'object',
          required: ['cohort'],
          additionalProperties: false,
          properties: { cohort: { type: 'object' } },
        },
      },
    },
    async (request) => {
      const session = request.session as Session
      const criteria = checkDocument(
        COHORT_SCHEMA,
        (request.body as { cohort: unknown }).cohort,
        'The cohort',
        'release.bad_spec',
      )
      const cohort = await selectCohort(db, criteria)
      await runtime.audit({
        actor: `account:${session.account.username}`,
        action: 'cohort.counted',
        target: null,
        detail: { persons: cohort.persons.size },
      })
      return { persons: cohort.persons.size, withheld: cohort.counts.withheld, reference: cohort.reference }
    },
  )
}
