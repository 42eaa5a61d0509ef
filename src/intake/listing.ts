import { type Kysely, sql } from 'kysely'
import type { Schema } from '../db/index.js'
import { TokumeiError } from '../model/index.js'

/** What operators and institutions see of intake: submissions, quarantine, holdings. No personal data. */
type Db = Kysely<Schema>

export interface SubmissionSummary {
  readonly id: number
  readonly institution: string
  readonly status: string
  readonly channel: string
  readonly submittedBy: string
  readonly createdAt: string
  readonly receivedAt: string | null
  readonly processedAt: string | null
  readonly duplicateOf: number | null
  readonly counts: Readonly<Record<string, number>>
  readonly pendingItems: number
}

export async function listSubmissions(
  db: Db,
  filter: { institutionId?: number; id?: number; limit?: number } = {},
): Promise<SubmissionSummary[]> {
  let query = db
    .selectFrom('intake.submission as s')
    .innerJoin('governance.institution as i', 'i.id', 's.institution_id')
    .select([
      's.id',
      'i.code',
      's.status',
      's.channel',
      's.submitted_by',
      's.created_at',
      's.received_at',
      's.processed_at',
      's.duplicate_of',
      's.counts',
      sql<number>`(select count(*)::int from intake.spool_item p where p.submission_id = s.id and p.status = 'pending')`.as(
        'pending',
      ),
    ])
    .orderBy('s.id', 'desc')
    .limit(filter.limit ?? 100)
  if (filter.institutionId !== undefined) query = query.where('s.institution_id', '=', filter.institutionId)
  if (filter.id !== undefined) query = query.where('s.id', '=', filter.id)
  const rows = await query.execute()
  return rows.map((r) => ({
    id: r.id,
    institution: r.code,
    status: r.status,
    channel: r.channel,
    submittedBy: r.submitted_by,
    createdAt: r.created_at.toISOString(),
    receivedAt: r.received_at?.toISOString() ?? null,
    processedAt: r.processed_at?.toISOString() ?? null,
    duplicateOf: r.duplicate_of,
    counts: r.counts,
    pendingItems: r.pending,
  }))
}

export const submissionNotFound = (id: number | string): TokumeiError =>
  new TokumeiError(`There is no submission ${id}.`, { code: 'submission.not_found', kind: 'not_found' })

/** One submission (of this institution, when given), or a not-found error. */
export async function findSubmission(db: Db, id: number, institutionId?: number): Promise<SubmissionSummary> {
  const [summary] = await listSubmissions(db, { id, institutionId })
  if (!summary) throw submissionNotFound(id)
  return summary
}

export interface QuarantineEntry {
  readonly id: number
  readonly submission: number
  readonly institution: string
  readonly item: number | null
  readonly file: string
  readonly position: Readonly<Record<string, string | number>>
  readonly code: string
  readonly reason: string
  readonly at: string
}

export async function listQuarantine(
  db: Db,
  filter: { submission?: number; institutionId?: number; limit?: number; newest?: boolean } = {},
): Promise<QuarantineEntry[]> {
  let query = db
    .selectFrom('intake.quarantine as q')
    .innerJoin('intake.submission as s', 's.id', 'q.submission_id')
    .innerJoin('governance.institution as i', 'i.id', 's.institution_id')
    .select([
      'q.id',
      'q.submission_id',
      'i.code',
      'q.item_seq',
      'q.display_path',
      'q.position',
      'q.code as problem',
      'q.reason',
      'q.created_at',
    ])
    .orderBy('q.id', filter.newest ? 'desc' : 'asc')
    .limit(filter.limit ?? 1000)
  if (filter.submission !== undefined) query = query.where('q.submission_id', '=', filter.submission)
  if (filter.institutionId !== undefined) query = query.where('s.institution_id', '=', filter.institutionId)
  const rows = await query.execute()
  return rows.map((r) => ({
    id: r.id,
    submission: r.submission_id,
    institution: r.code,
    item: r.item_seq,
    file: r.display_path,
    position: r.position as unknown as Record<string, string | number>,
    code: r.problem,
    reason: r.reason,
    at: r.created_at.toISOString(),
  }))
}

export interface Holding {
  readonly category: string
  readonly patients: number
  readonly records: number
  readonly firstDate: string | null
  readonly lastDate: string | null
}

export interface InstitutionHoldings {
  readonly institution: string
  readonly name: string
  readonly lastSubmission: string | null
  readonly submissions: number
  readonly categories: Holding[]
}

/** 保有状況: per institution, data categories with patients, records and date range; last submission. */
export async function readHoldings(db: Db, institutionId?: number): Promise<InstitutionHoldings[]> {
  let institutions = db
    .selectFrom('governance.institution as i')
    .select([
      'i.id',
      'i.code',
      'i.name',
      sql<Date | null>`(select max(s.received_at) from intake.submission s where s.institution_id = i.id)`.as(
        'last',
      ),
      sql<number>`(select count(*)::int from intake.submission s where s.institution_id = i.id and s.received_at is not null)`.as(
        'submissions',
      ),
    ])
    .orderBy('i.code')
  if (institutionId !== undefined) institutions = institutions.where('i.id', '=', institutionId)
  const list = await institutions.execute()
  const holdings = await db
    .selectFrom('governance.holding')
    .select([
      'institution_id',
      'category',
      'patients',
      'records',
      sql<string | null>`first_date::text`.as('first_date'),
      sql<string | null>`last_date::text`.as('last_date'),
    ])
    .orderBy('category')
    .execute()
  return list.map((i) => ({
    institution: i.code,
    name: i.name,
    lastSubmission: i.last ? new Date(i.last).toISOString() : null,
    submissions: i.submissions,
    categories: holdings
      .filter((h) => h.institution_id === i.id)
      .map((h) => ({
        category: h.category,
        patients: h.patients,
        records: h.records,
        firstDate: h.first_date,
        lastDate: h.last_date,
      })),
  }))
}
