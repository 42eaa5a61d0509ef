import { type Kysely, sql } from 'kysely'
import type { Schema } from '../../db/index.js'
import { TokumeiError } from '../../model/index.js'
import { recordAuditEvent } from '../audit/index.js'
import type { Account, AgencyRole } from '../auth/index.js'
import type { Keyring } from '../crypto/index.js'

/**
 * Two-person control. An operation that one person must not do alone — lifting a block, rotating the
 * master key, approving a release — is first a request, recorded by one person, and done only when
 * a different person approves it with their own account and TOTP code. A person is their account
 * name: the core-host operator `os:alice@host` and the account `alice` are the same person, so that
 * no one approves their own request by switching channels. Requests expire unapproved.
 */
type Db = Kysely<Schema>

export type ApprovalKind = 'block.lift' | 'keys.rotate'

interface KindSpec {
  /** Roles of which the approver must hold one. */
  readonly approvers: readonly AgencyRole[]
  readonly expiresHours: number
  /** What the request asks, for listings and prompts. */
  describe(target: string, params: Record<string, unknown>): string
}

export const APPROVAL_KINDS: Readonly<Record<ApprovalKind, KindSpec>> = {
  'block.lift': {
    approvers: ['security_officer', 'admin'],
    expiresHours: 24,
    describe: (target) => `lift ${target.replace(':', ' ')}`,
  },
  'keys.rotate': {
    approvers: ['admin', 'security_officer'],
    expiresHours: 24,
    describe: (_target, params) =>
      `rotate the master key${params.dataKeys ? ' and start new data-key versions' : ''}`,
  },
}

export interface ApprovalView {
  readonly id: number
  readonly kind: ApprovalKind
  readonly target: string
  readonly params: Record<string, unknown>
  readonly description: string
  readonly requestedBy: string
  readonly requestedAt: string
  readonly expiresAt: string
  readonly state: 'open' | 'approved' | 'done' | 'cancelled' | 'expired'
  readonly approvedBy: string | null
  readonly result: Record<string, unknown> | null
}

export interface ApprovalContext {
  readonly db: Db
  readonly keyring: Keyring
  /** The audit actor of whoever acts: `os:alice@host`, `account:alice`. */
  readonly actor: string
}

/** The person behind an audit actor: `os:alice@host` → alice, `account:alice` → alice. */
export function personOf(actor: string): string {
  const os = /^os:([^@]+)@/.exec(actor)
  if (os) return (os[1] as string).toLowerCase()
  const account = /^account:(.+)$/.exec(actor)
  return (account ? (account[1] as string) : actor).toLowerCase()
}

const notFound = (id: number) =>
  new TokumeiError(`There is no open request ${id}: see \`tokumei approvals\`.`, {
    code: 'approval.not_found',
    kind: 'not_found',
  })

/**
 * Records a request. A second request for the same operation while one is open is refused with the
 * open one's number (approve that one instead).
 */
export async function requestApproval(
  context: ApprovalContext,
  input: { kind: ApprovalKind; target: string; params?: Record<string, unknown> },
  db: Db = context.db,
): Promise<ApprovalView> {
  const spec = APPROVAL_KINDS[input.kind]
  const open = await db
    .selectFrom('governance.approval')
    .select(['id', 'expires_at'])
    .where('kind', '=', input.kind)
    .where('target', '=', input.target)
    .where('approved_at', 'is', null)
    .where('cancelled_at', 'is', null)
    .executeTakeFirst()
  if (open && open.expires_at > new Date())
    throw new TokumeiError(
      `Request ${open.id} to ${spec.describe(input.target, input.params ?? {})} is open already: another person approves it with \`tokumei approve ${open.id}\`.`,
      { code: 'approval.pending', kind: 'conflict', details: { request: open.id } },
    )
  if (open) {
    // An expired request gives way to the new one.
    await db
      .updateTable('governance.approval')
      .set({ cancelled_by: 'system:expiry', cancelled_at: sql`now()` })
      .where('id', '=', open.id)
      .execute()
  }
  const row = await db
    .insertInto('governance.approval')
    .values({
      kind: input.kind,
      target: input.target,
      params: JSON.stringify(input.params ?? {}),
      requested_by: context.actor,
      requested_person: personOf(context.actor),
      expires_at: new Date(Date.now() + spec.expiresHours * 3_600_000),
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  await recordAuditEvent(db, context.keyring, {
    actor: context.actor,
    action: 'approval.requested',
    target: `approval:${row.id}`,
    detail: { kind: input.kind, target: input.target },
  })
  return findApproval(db, row.id)
}

export async function findApproval(db: Db, id: number): Promise<ApprovalView> {
  const [found] = await queryApprovals(db, { id })
  if (!found) throw notFound(id)
  return found
}

export async function listApprovals(
  db: Db,
  options: { all?: boolean; limit?: number } = {},
): Promise<ApprovalView[]> {
  return queryApprovals(db, { limit: options.limit ?? 100, open: !options.all })
}

async function queryApprovals(
  db: Db,
  filter: { id?: number; limit?: number; open?: boolean },
): Promise<ApprovalView[]> {
  let query = db.selectFrom('governance.approval').selectAll().orderBy('id', 'desc')
  if (filter.id !== undefined) query = query.where('id', '=', filter.id)
  // Open ones are chosen in SQL, so that the limit counts only them.
  if (filter.open)
    query = query
      .where('approved_at', 'is', null)
      .where('cancelled_at', 'is', null)
      .where('expires_at', '>', sql<Date>`now()`)
  if (filter.limit !== undefined) query = query.limit(filter.limit)
  const rows = await query.execute()
  const now = new Date()
  return rows.map((r) => {
    const kind = r.kind as ApprovalKind
    const params = r.params ?? {}
    return {
      id: r.id,
      kind,
      target: r.target,
      params,
      description: APPROVAL_KINDS[kind]?.describe(r.target, params) ?? `${r.kind} ${r.target}`,
      requestedBy: r.requested_by,
      requestedAt: r.requested_at.toISOString(),
      expiresAt: r.expires_at.toISOString(),
      state: r.cancelled_at
        ? 'cancelled'
        : r.done_at
          ? 'done'
          : r.approved_at
            ? 'approved'
            : r.expires_at <= now
              ? 'expired'
              : 'open',
      approvedBy: r.approved_by,
      result: r.result,
    }
  })
}

/**
 * The approval of an open request by a verified person (see `verifyPerson`): checks the kind's roles
 * and that the approver is not the requester, then runs `execute` — in the approval's transaction
 * when `inTransaction` (the operation is database writes alone), or after it, undoing the approval
 * if the operation fails (it touches files or keys). Returns the request as it ends.
 */
export async function approveRequest(
  context: ApprovalContext,
  input: {
    id: number
    approver: Account
    execute: (request: ApprovalView, db: Db) => Promise<Record<string, unknown>>
    inTransaction: boolean
  },
): Promise<ApprovalView> {
  const approverActor = `account:${input.approver.username}`
  const approved = await context.db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('governance.approval')
      .select(['id', 'kind', 'requested_person', 'expires_at', 'approved_at', 'cancelled_at'])
      .where('id', '=', input.id)
      .forUpdate()
      .executeTakeFirst()
    if (!row || row.approved_at !== null || row.cancelled_at !== null || row.expires_at <= new Date())
      throw notFound(input.id)
    const spec = APPROVAL_KINDS[row.kind as ApprovalKind]
    if (!spec || !input.approver.roles.some((role) => spec.approvers.includes(role)))
      throw new TokumeiError(
        `Approving this request needs the role ${spec?.approvers.join(' or ') ?? '(unknown kind)'}.`,
        { code: 'approval.forbidden', kind: 'forbidden' },
      )
    const person = personOf(approverActor)
    if (person === row.requested_person)
      throw new TokumeiError(
        `Request ${row.id} was made by ${row.requested_person}: it needs a different person's approval.`,
        { code: 'approval.same_person', kind: 'forbidden' },
      )
    await trx
      .updateTable('governance.approval')
      .set({ approved_by: approverActor, approved_person: person, approved_at: sql`now()` })
      .where('id', '=', row.id)
      .execute()
    await recordAuditEvent(trx, context.keyring, {
      actor: approverActor,
      action: 'approval.approved',
      target: `approval:${row.id}`,
      detail: { kind: row.kind, via: context.actor },
    })
    const request = (await queryApprovals(trx, { id: row.id }))[0] as ApprovalView
    if (input.inTransaction) await finish(trx, context, request, await input.execute(request, trx))
    return request
  })
  if (input.inTransaction) return findApproval(context.db, input.id)
  let result: Record<string, unknown>
  try {
    result = await input.execute(approved, context.db)
  } catch (error) {
    await context.db
      .updateTable('governance.approval')
      .set({ approved_by: null, approved_person: null, approved_at: null })
      .where('id', '=', input.id)
      .execute()
    throw error
  }
  await finish(context.db, context, approved, result)
  return findApproval(context.db, input.id)
}

async function finish(
  db: Db,
  context: ApprovalContext,
  request: ApprovalView,
  result: Record<string, unknown>,
) {
  await db
    .updateTable('governance.approval')
    .set({ done_at: sql`now()`, result: JSON.stringify(result) })
    .where('id', '=', request.id)
    .execute()
  await recordAuditEvent(db, context.keyring, {
    actor: context.actor,
    action: 'approval.done',
    target: `approval:${request.id}`,
    detail: { kind: request.kind, target: request.target },
  })
}

/** Withdraws an open request (the commands and routes that call this decide who may). */
export async function cancelApproval(context: ApprovalContext, id: number): Promise<void> {
  await context.db.transaction().execute(async (trx) => {
    const cancelled = await trx
      .updateTable('governance.approval')
      .set({ cancelled_by: context.actor, cancelled_at: sql`now()` })
      .where('id', '=', id)
      .where('approved_at', 'is', null)
      .where('cancelled_at', 'is', null)
      .returning('kind')
      .executeTakeFirst()
    if (!cancelled) throw notFound(id)
    await recordAuditEvent(trx, context.keyring, {
      actor: context.actor,
      action: 'approval.cancelled',
      target: `approval:${id}`,
      detail: { kind: cancelled.kind },
    })
  })
}
