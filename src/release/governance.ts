import { type Kysely, sql, type Transaction } from 'kysely'
import { z } from 'zod'
import type { ContractState, ProjectState, Schema } from '../db/index.js'
import { TokumeiError } from '../model/index.js'
import { type Account, type Keyring, personOf, recordAuditEvent } from '../security/index.js'

/**
 * The governance of provision: a project is applied for (利用申請), reviewed by the committee
 * (審査委員会) — two approvals from reviewers who neither applied for it nor amended it —, bound by
 * a contract (提供契約) naming its recipients, purposes and bans, amended or withdrawn; every step is
 * an audit event written in the step's own transaction.
 */
type Db = Kysely<Schema>

export interface GovernanceContext {
  readonly db: Db
  readonly keyring: Keyring
  /** The audit actor of whoever acts. */
  readonly actor: string
  /** Approvals a version needs (2 unless configured higher). */
  readonly approvals?: number
}

const text = (what: string) => z.string().trim().min(1, `${what} is empty`)
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD')

/** The application document (申請書): what the applicant asks for and how they will keep it safe. */
export const APPLICATION_SCHEMA = z.strictObject({
  title: text('the title'),
  organisation: text('the applicant organisation'),
  investigator: text('the principal investigator'),
  purpose: z.enum(['research', 'administration']).describe('研究開発 or 医療行政'),
  kind: z.enum(['anonymized', 'pseudonymized']).default('anonymized'),
  summary: z.string().default(''),
  items: z.array(text('a data item')).min(1, 'no data items are requested'),
  cohort: text('the cohort'),
  period: z.strictObject({ from: isoDate, to: isoDate }),
  security: z.array(text('a security measure')).min(1, "the applicant's security measures are missing"),
})
export type Application = z.infer<typeof APPLICATION_SCHEMA>

export const CONTRACT_SCHEMA = z.strictObject({
  recipients: z
    .array(
      z.strictObject({
        name: text("a recipient's name"),
        organisation: text("a recipient's organisation"),
        publicKey: z.string().optional().describe('X25519 public key (PEM) that packages are encrypted to'),
      }),
    )
    .min(1, 'a contract names at least one recipient'),
  purposes: z.array(text('a purpose')).min(1, 'a contract names its permitted purposes'),
  sharing: text('the sharing scope'),
  starts: isoDate,
  ends: isoDate,
  destroyBy: isoDate,
  publicationCheck: z.boolean().default(true),
})
export type ContractTerms = z.infer<typeof CONTRACT_SCHEMA>

/** Both bans stand in every contract (法第33条 re-identification; onward provision). */
export const CONTRACT_BANS = ['re-identification', 'onward-provision'] as const

export interface ProjectView {
  readonly code: string
  readonly title: string
  readonly organisation: string
  readonly investigator: string
  readonly purpose: 'research' | 'administration'
  readonly kind: 'anonymized' | 'pseudonymized'
  readonly state: ProjectState
  readonly version: number
  readonly appliedBy: string
  readonly appliedAt: string
  readonly application: Application
  readonly reviews: ReadonlyArray<{
    readonly version: number
    readonly reviewer: string
    readonly decision: 'approve' | 'reject'
    readonly comment: string
    readonly at: string
  }>
  readonly approvalsNeeded: number
  readonly contract?: ContractView
}

export interface ContractView {
  readonly code: string
  readonly project: string
  readonly state: ContractState
  readonly recipients: ReadonlyArray<{ name: string; organisation: string; keyId?: string }>
  readonly purposes: readonly string[]
  readonly sharing: string
  readonly bans: readonly string[]
  readonly publicationCheck: boolean
  readonly starts: string
  readonly ends: string
  readonly destroyBy: string
  readonly signedBy: string
  readonly destruction?: Record<string, unknown>
}

const notFound = (what: string, code: string) =>
  new TokumeiError(`There is no ${what} ${code}: see \`tokumei ${what} list\`.`, {
    code: `${what}.not_found`,
    kind: 'not_found',
  })

const conflict = (message: string, code: string) => new TokumeiError(message, { code, kind: 'conflict' })

async function audit(
  trx: Transaction<Schema> | Db,
  context: GovernanceContext,
  action: string,
  target: string,
  detail: Record<string, string | number | boolean | null> = {},
) {
  await recordAuditEvent(trx, context.keyring, { actor: context.actor, action, target, detail })
}

export async function applyForProject(
  context: GovernanceContext,
  application: Application,
): Promise<ProjectView> {
  const code = await context.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('governance.project')
      .values({
        code: `pending-${process.pid}-${Date.now()}-${Math.random()}`,
        title: application.title,
        organisation: application.organisation,
        investigator: application.investigator,
        purpose: application.purpose,
        kind: application.kind,
        application: JSON.stringify(application),
        applied_by: context.actor,
        applied_person: personOf(context.actor),
      })
      .returning(['id', 'applied_at'])
      .executeTakeFirstOrThrow()
    const code = `P-${row.applied_at.getUTCFullYear()}-${String(row.id).padStart(4, '0')}`
    await trx.updateTable('governance.project').set({ code }).where('id', '=', row.id).execute()
    await audit(trx, context, 'project.applied', `project:${code}`, { purpose: application.purpose })
    return code
  })
  return findProject(context, code)
}

async function lockProject(trx: Transaction<Schema>, code: string) {
  const row = await trx
    .selectFrom('governance.project')
    .selectAll()
    .where('code', '=', code)
    .forUpdate()
    .executeTakeFirst()
  if (!row) throw notFound('project', code)
  return row
}

async function lockContract(trx: Transaction<Schema>, code: string) {
  const row = await trx
    .selectFrom('governance.contract')
    .selectAll()
    .where('code', '=', code)
    .forUpdate()
    .executeTakeFirst()
  if (!row) throw notFound('contract', code)
  return row
}

/**
 * An amendment (変更申請): the new text replaces the old one, which is kept; the new version needs its
 * own approvals, so the project returns to `submitted` (an active contract stays, but no release is
 * built until the amendment is approved).
 */
export async function amendProject(
  context: GovernanceContext,
  code: string,
  application: Application,
  reason: string,
): Promise<ProjectView> {
  if (reason.trim() === '')
    throw new TokumeiError('Say why the project is amended (--reason).', {
      code: 'project.no_reason',
      kind: 'invalid',
    })
  await context.db.transaction().execute(async (trx) => {
    const row = await lockProject(trx, code)
    if (row.state === 'withdrawn' || row.state === 'closed')
      throw conflict(`Project ${code} is ${row.state}: it cannot be amended.`, 'project.closed')
    await trx
      .insertInto('governance.project_version')
      .values({
        project_id: row.id,
        version: row.version,
        application: JSON.stringify(row.application),
        changed_by: context.actor,
        reason,
      })
      .execute()
    await trx
      .updateTable('governance.project')
      .set({
        version: row.version + 1,
        application: JSON.stringify(application),
        title: application.title,
        organisation: application.organisation,
        investigator: application.investigator,
        purpose: application.purpose,
        state: 'submitted',
        updated_at: new Date(),
      })
      .where('id', '=', row.id)
      .execute()
    await audit(trx, context, 'project.amended', `project:${code}`, { version: row.version + 1 })
  })
  return findProject(context, code)
}

export async function withdrawProject(
  context: GovernanceContext,
  code: string,
  reason: string,
): Promise<ProjectView> {
  await context.db.transaction().execute(async (trx) => {
    const row = await lockProject(trx, code)
    if (row.state === 'withdrawn' || row.state === 'closed')
      throw conflict(`Project ${code} is ${row.state} already.`, 'project.closed')
    await trx
      .updateTable('governance.project')
      .set({ state: 'withdrawn', updated_at: new Date() })
      .where('id', '=', row.id)
      .execute()
    // Its contract ends with it: nothing more is provided.
    await trx
      .updateTable('governance.contract')
      .set({ state: 'terminated', ended_at: new Date() })
      .where('project_id', '=', row.id)
      .where('state', '=', 'active')
      .execute()
    await audit(trx, context, 'project.withdrawn', `project:${code}`, { reason })
  })
  return findProject(context, code)
}

/**
 * One committee member's decision on the project's current version. The reviewer is a verified
 * account with the `reviewer` role, and not the person who applied for or last amended it. Two
 * approvals (and no rejection) approve the version; one rejection rejects it.
 */
export async function reviewProject(
  context: GovernanceContext,
  input: { code: string; reviewer: Account; decision: 'approve' | 'reject'; comment?: string },
): Promise<ProjectView> {
  if (!input.reviewer.roles.includes('reviewer'))
    throw new TokumeiError('Reviewing a project needs the role reviewer (審査委員).', {
      code: 'review.forbidden',
      kind: 'forbidden',
    })
  const reviewerActor = `account:${input.reviewer.username}`
  const person = personOf(reviewerActor)
  const needed = Math.max(2, context.approvals ?? 2)
  await context.db.transaction().execute(async (trx) => {
    const row = await lockProject(trx, input.code)
    if (row.state !== 'submitted')
      throw conflict(
        `Project ${input.code} is ${row.state}: only a submitted application (or an amendment) is reviewed.`,
        'review.not_open',
      )
    const authors = new Set([row.applied_person])
    const amendment = await trx
      .selectFrom('governance.project_version')
      .select('changed_by')
      .where('project_id', '=', row.id)
      .where('version', '=', row.version - 1)
      .executeTakeFirst()
    if (amendment) authors.add(personOf(amendment.changed_by))
    if (authors.has(person))
      throw new TokumeiError(
        `${input.reviewer.username} applied for or amended ${input.code}: another reviewer decides.`,
        {
          code: 'review.own_project',
          kind: 'forbidden',
        },
      )
    const earlier = await trx
      .selectFrom('governance.review')
      .select('id')
      .where('project_id', '=', row.id)
      .where('version', '=', row.version)
      .where('reviewer_person', '=', person)
      .executeTakeFirst()
    if (earlier)
      throw conflict(
        `${input.reviewer.username} has reviewed version ${row.version} of ${input.code} already.`,
        'review.twice',
      )
    await trx
      .insertInto('governance.review')
      .values({
        project_id: row.id,
        version: row.version,
        reviewer: reviewerActor,
        reviewer_person: person,
        decision: input.decision,
        comment: input.comment ?? '',
      })
      .execute()
    const { approvals } = await trx
      .selectFrom('governance.review')
      .select(sql<number>`count(*) filter (where decision = 'approve')::int`.as('approvals'))
      .where('project_id', '=', row.id)
      .where('version', '=', row.version)
      .executeTakeFirstOrThrow()
    let state: ProjectState = 'submitted'
    if (input.decision === 'reject') state = 'rejected'
    else if (approvals >= needed) {
      const contract = await trx
        .selectFrom('governance.contract')
        .select('id')
        .where('project_id', '=', row.id)
        .where('state', '=', 'active')
        .executeTakeFirst()
      state = contract ? 'contracted' : 'approved'
    }
    if (state !== row.state)
      await trx
        .updateTable('governance.project')
        .set({ state, updated_at: new Date() })
        .where('id', '=', row.id)
        .execute()
    await recordAuditEvent(trx, context.keyring, {
      actor: reviewerActor,
      action: `review.${input.decision === 'approve' ? 'approved' : 'rejected'}`,
      target: `project:${input.code}`,
      detail: { version: row.version, approvals, needed, state },
    })
  })
  return findProject(context, input.code)
}

/** The contract of an approved project; its recipients' keys are the ones packages are encrypted to. */
export async function signContract(
  context: GovernanceContext,
  projectCode: string,
  terms: ContractTerms,
  keyIdOf: (publicKey: string) => string,
): Promise<ContractView> {
  if (!(terms.starts <= terms.ends && terms.ends <= terms.destroyBy))
    throw new TokumeiError(
      'A contract starts before it ends, and its data are destroyed on or after its end.',
      {
        code: 'contract.bad_dates',
        kind: 'invalid',
      },
    )
  const code = await context.db.transaction().execute(async (trx) => {
    const project = await lockProject(trx, projectCode)
    if (project.state !== 'approved')
      throw conflict(
        `Project ${projectCode} is ${project.state}: a contract is signed for an approved project only.`,
        'contract.not_approved',
      )
    const recipients = terms.recipients.map((r) => ({
      name: r.name,
      organisation: r.organisation,
      ...(r.publicKey ? { publicKey: r.publicKey, keyId: keyIdOf(r.publicKey) } : {}),
    }))
    const row = await trx
      .insertInto('governance.contract')
      .values({
        code: `pending-${project.id}`,
        project_id: project.id,
        recipients: JSON.stringify(recipients),
        purposes: terms.purposes,
        sharing_scope: terms.sharing,
        bans: [...CONTRACT_BANS],
        publication_check: terms.publicationCheck,
        starts_on: terms.starts,
        ends_on: terms.ends,
        destroy_by: terms.destroyBy,
        signed_by: context.actor,
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    const code = `C-${projectCode.slice(2)}-${String(row.id).padStart(2, '0')}`
    await trx.updateTable('governance.contract').set({ code }).where('id', '=', row.id).execute()
    await trx
      .updateTable('governance.project')
      .set({ state: 'contracted', updated_at: new Date() })
      .where('id', '=', project.id)
      .execute()
    await audit(trx, context, 'contract.signed', `contract:${code}`, {
      project: projectCode,
      recipients: recipients.length,
      ends: terms.ends,
    })
    return code
  })
  return findContract(context.db, code)
}

/** The end of a contract (期間満了): nothing more is provided; the recipient must destroy what they hold. */
export async function endContract(context: GovernanceContext, code: string): Promise<ContractView> {
  await context.db.transaction().execute(async (trx) => {
    const row = await lockContract(trx, code)
    if (row.state !== 'active')
      throw conflict(`Contract ${code} is ${row.state} already.`, 'contract.not_active')
    await trx
      .updateTable('governance.contract')
      .set({ state: 'ended', ended_at: new Date() })
      .where('id', '=', row.id)
      .execute()
    await trx
      .updateTable('governance.project')
      .set({ state: 'closed', updated_at: new Date() })
      .where('id', '=', row.project_id)
      .execute()
    await audit(trx, context, 'contract.ended', `contract:${code}`)
  })
  return findContract(context.db, code)
}

export const DESTRUCTION_SCHEMA = z.strictObject({
  destroyedOn: isoDate,
  method: text('the method of destruction'),
  copies: z.array(text('a copy')).min(1, 'name every copy destroyed (media, hosts)'),
  certifiedBy: text('who certifies the destruction'),
})
export type Destruction = z.infer<typeof DESTRUCTION_SCHEMA>

/**
 * The destruction certificate (消去証明): the recipient's statement, recorded and signed by the agency
 * with the releases it covers. Returns the signed certificate.
 */
export async function certifyDestruction(
  context: GovernanceContext,
  code: string,
  statement: Destruction,
): Promise<{ certificate: Record<string, unknown>; signature: string; keyId: string }> {
  return context.db.transaction().execute(async (trx) => {
    const row = await lockContract(trx, code)
    if (row.state === 'active' || row.state === 'destroyed')
      throw conflict(
        row.state === 'active'
          ? `Contract ${code} is active: end it first (\`tokumei contract end ${code}\`).`
          : `Contract ${code} has its destruction certificate already.`,
        'contract.destruction_state',
      )
    const releases = await trx
      .selectFrom('governance.release')
      .select('id')
      .where('contract_id', '=', row.id)
      .where('state', '=', 'built')
      .orderBy('id')
      .execute()
    const certificate = {
      contract: code,
      releases: releases.map((r) => r.id),
      ...statement,
      recordedBy: context.actor,
      recordedAt: new Date().toISOString(),
    }
    const signing = context.keyring.signingKey('destruction-certificate')
    const signature = context.keyring
      .sign('destruction-certificate', Buffer.from(JSON.stringify(certificate)))
      .toString('base64')
    await trx
      .updateTable('governance.contract')
      .set({
        state: 'destroyed',
        destruction: JSON.stringify({ certificate, signature, keyId: signing.keyId }),
      })
      .where('id', '=', row.id)
      .execute()
    await audit(trx, context, 'contract.destroyed', `contract:${code}`, { releases: releases.length })
    return { certificate, signature, keyId: signing.keyId }
  })
}

export async function findProject(
  context: Pick<GovernanceContext, 'db' | 'approvals'>,
  code: string,
): Promise<ProjectView> {
  const [found] = await queryProjects(context, code)
  if (!found) throw notFound('project', code)
  return found
}

export async function listProjects(
  context: Pick<GovernanceContext, 'db' | 'approvals'>,
): Promise<ProjectView[]> {
  return queryProjects(context)
}

async function queryProjects(
  context: Pick<GovernanceContext, 'db' | 'approvals'>,
  code?: string,
): Promise<ProjectView[]> {
  let query = context.db.selectFrom('governance.project').selectAll().orderBy('id')
  if (code !== undefined) query = query.where('code', '=', code)
  const rows = await query.execute()
  if (rows.length === 0) return []
  const ids = rows.map((r) => r.id)
  const reviews = await context.db
    .selectFrom('governance.review')
    .selectAll()
    .where('project_id', 'in', ids)
    .orderBy('id')
    .execute()
  const contracts = await queryContracts(context.db, { projectIds: ids })
  return rows.map((r) => {
    const contract = contracts.filter((c) => c.project === r.code).at(-1)
    return {
      code: r.code,
      title: r.title,
      organisation: r.organisation,
      investigator: r.investigator,
      purpose: r.purpose,
      kind: r.kind,
      state: r.state,
      version: r.version,
      appliedBy: r.applied_by,
      appliedAt: r.applied_at.toISOString(),
      application: r.application as Application,
      reviews: reviews
        .filter((v) => v.project_id === r.id)
        .map((v) => ({
          version: v.version,
          reviewer: v.reviewer,
          decision: v.decision,
          comment: v.comment,
          at: v.decided_at.toISOString(),
        })),
      approvalsNeeded: Math.max(2, context.approvals ?? 2),
      ...(contract ? { contract } : {}),
    }
  })
}

export async function findContract(db: Db, code: string): Promise<ContractView> {
  const [found] = await queryContracts(db, { code })
  if (!found) throw notFound('contract', code)
  return found
}

export async function listContracts(db: Db): Promise<ContractView[]> {
  return queryContracts(db, {})
}

async function queryContracts(
  db: Db,
  filter: { code?: string; projectIds?: readonly number[] },
): Promise<ContractView[]> {
  let query = db
    .selectFrom('governance.contract as c')
    .innerJoin('governance.project as p', 'p.id', 'c.project_id')
    .selectAll('c')
    .select('p.code as project')
    .orderBy('c.id')
  if (filter.code !== undefined) query = query.where('c.code', '=', filter.code)
  if (filter.projectIds) query = query.where('c.project_id', 'in', filter.projectIds)
  const rows = await query.execute()
  return rows.map((r) => ({
    code: r.code,
    project: r.project,
    state: r.state,
    recipients: r.recipients.map(({ name, organisation, keyId }) => ({
      name,
      organisation,
      ...(keyId ? { keyId } : {}),
    })),
    purposes: r.purposes,
    sharing: r.sharing_scope,
    bans: r.bans,
    publicationCheck: r.publication_check,
    starts: r.starts_on,
    ends: r.ends_on,
    destroyBy: r.destroy_by,
    signedBy: r.signed_by,
    ...(r.destruction ? { destruction: r.destruction } : {}),
  }))
}

/** The project and active contract a release or statistics query is made under; refuses any other. */
export async function activeContract(
  db: Db,
  projectCode: string,
): Promise<{
  projectId: number
  contractId: number
  contract: string
  recipients: ReadonlyArray<{ name: string; organisation: string; publicKey?: string; keyId?: string }>
  kind: 'anonymized' | 'pseudonymized'
  period: { from: string; to: string }
}> {
  const project = await db
    .selectFrom('governance.project')
    .select(['id', 'state', 'kind', 'application'])
    .where('code', '=', projectCode)
    .executeTakeFirst()
  if (!project) throw notFound('project', projectCode)
  if (project.state !== 'contracted')
    throw conflict(
      `Project ${projectCode} is ${project.state}: data are provided only under an approved project with an active contract.`,
      'release.not_contracted',
    )
  const contract = await db
    .selectFrom('governance.contract')
    .select(['id', 'code', 'recipients', 'ends_on'])
    .where('project_id', '=', project.id)
    .where('state', '=', 'active')
    .executeTakeFirst()
  const today = new Date().toISOString().slice(0, 10)
  if (!contract || contract.ends_on < today)
    throw conflict(`Project ${projectCode} has no contract in force today.`, 'release.no_contract')
  return {
    projectId: project.id,
    contractId: contract.id,
    contract: contract.code,
    recipients: contract.recipients,
    kind: project.kind,
    period: (project.application as Application).period,
  }
}
