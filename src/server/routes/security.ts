import type { FastifyPluginAsync } from 'fastify'
import { TokumeiError } from '../../model/index.js'
import { authContext, type Runtime } from '../../runtime/index.js'
import {
  type ApprovalContext,
  approveRequest,
  blockManually,
  cancelApproval,
  findApproval,
  liftBlock,
  listAlerts,
  listApprovals,
  requestLift,
  type Session,
  verifyPerson,
} from '../../security/index.js'

/**
 * The security officer's routes (portal zone): alerts, asking for a block's lift, and two-person
 * approvals. Approving needs a fresh TOTP code on top of the session; the approver must be another
 * person than the requester. A key rotation is approved on the core host only (it writes the master
 * key file there).
 */
const OFFICERS = { roles: ['security_officer', 'admin'] } as const

const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'integer', minimum: 1 } },
} as const

const approveBody = {
  type: 'object',
  required: ['code'],
  additionalProperties: false,
  properties: { code: { type: 'string', minLength: 1, maxLength: 16 } },
} as const

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    all: { type: 'boolean', default: false },
  },
} as const

const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    actor: { type: 'string', maxLength: 200 },
    action: { type: 'string', maxLength: 100 },
    target: { type: 'string', maxLength: 200 },
    outcome: { type: 'string', enum: ['ok', 'denied', 'failed'] },
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    before: { type: 'integer', minimum: 1 },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
  },
} as const

export const securityRoutes: FastifyPluginAsync<{ runtime: Runtime }> = async (app, { runtime }) => {
  const approvals = (session: Session): ApprovalContext => ({
    db: runtime.db.kysely,
    keyring: runtime.keyring,
    actor: `account:${session.account.username}`,
  })

  app.get(
    '/alerts',
    {
      config: { access: OFFICERS },
      schema: { tags: ['security'], summary: "The monitor's alerts, newest first", querystring: listQuery },
    },
    async (request) => {
      const { limit } = request.query as { limit: number }
      return { alerts: await listAlerts(runtime.db.kysely, limit) }
    },
  )

  app.get(
    '/audit',
    {
      config: { access: OFFICERS },
      schema: {
        tags: ['security'],
        summary: 'Search the audit log, newest first (actor, action and target by prefix; a time range)',
        querystring: auditQuery,
      },
    },
    async (request) => {
      const q = request.query as {
        actor?: string
        action?: string
        target?: string
        outcome?: string
        from?: string
        to?: string
        before?: number
        limit: number
      }
      const prefix = (value: string) => `${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
      let query = runtime.db.kysely
        .selectFrom('audit.event')
        .select(['seq', 'at', 'actor', 'action', 'target', 'outcome', 'detail'])
        .orderBy('seq', 'desc')
        .limit(q.limit)
      if (q.actor) query = query.where('actor', 'like', prefix(q.actor))
      if (q.action) query = query.where('action', 'like', prefix(q.action))
      if (q.target) query = query.where('target', 'like', prefix(q.target))
      if (q.outcome) query = query.where('outcome', '=', q.outcome as 'ok')
      if (q.from) query = query.where('at', '>=', new Date(q.from))
      if (q.to) query = query.where('at', '<', new Date(q.to))
      if (q.before) query = query.where('seq', '<', q.before)
      const session = request.session as Session
      await runtime.audit({
        actor: `account:${session.account.username}`,
        action: 'audit.searched',
        target: null,
        detail: Object.fromEntries(
          Object.entries({ actor: q.actor, action: q.action, target: q.target, outcome: q.outcome }).filter(
            (e): e is [string, string] => typeof e[1] === 'string',
          ),
        ),
      })
      return { events: await query.execute() }
    },
  )

  app.get(
    '/blocks',
    {
      config: { access: OFFICERS },
      schema: { tags: ['security'], summary: 'Blocks in force and lifted, newest first' },
    },
    async () => ({
      blocks: await runtime.db.kysely
        .selectFrom('governance.block')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(200)
        .execute(),
    }),
  )

  app.post(
    '/blocks',
    {
      config: { access: OFFICERS },
      schema: {
        tags: ['security'],
        summary: 'Block an account, API key or address at once (lifting it takes two people)',
        body: {
          type: 'object',
          required: ['subject', 'reason'],
          additionalProperties: false,
          properties: {
            subject: { type: 'string', minLength: 1, maxLength: 120 },
            reason: { type: 'string', minLength: 1, maxLength: 500 },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { subject: string; reason: string }
      return reply
        .status(201)
        .send({ block: await blockManually(approvals(request.session as Session), body) })
    },
  )

  app.post(
    '/blocks/:id/lift',
    {
      config: { access: OFFICERS },
      schema: {
        tags: ['security'],
        summary: "Ask for a block's lift (another person approves it)",
        params: idParams,
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: number }
      const created = await requestLift(approvals(request.session as Session), id)
      return reply.status(201).send({ approval: created })
    },
  )

  app.get(
    '/approvals',
    {
      config: { access: OFFICERS },
      schema: {
        tags: ['security'],
        summary: 'Two-person requests (open ones unless all=true)',
        querystring: listQuery,
      },
    },
    async (request) => {
      const { limit, all } = request.query as { limit: number; all: boolean }
      return { approvals: await listApprovals(runtime.db.kysely, { limit, all }) }
    },
  )

  app.post(
    '/approvals/:id/approve',
    {
      config: { access: OFFICERS },
      schema: {
        tags: ['security'],
        summary: "Approve another person's request, with a fresh TOTP code",
        params: idParams,
        body: approveBody,
      },
    },
    async (request) => {
      const session = request.session as Session
      const { id } = request.params as { id: number }
      const { code } = request.body as { code: string }
      const pending = await findApproval(runtime.db.kysely, id)
      if (pending.kind === 'keys.rotate')
        throw new TokumeiError(
          `Request ${id} rotates the master key, which lives on the core host: approve it there with \`tokumei approve ${id} --user ${session.account.username}\`.`,
          { code: 'approval.core_only', kind: 'conflict' },
        )
      const approver = await verifyPerson(authContext(runtime), {
        username: session.account.username,
        code,
        source: request.ip,
        session,
      })
      const done = await approveRequest(approvals(session), {
        id,
        approver,
        inTransaction: true,
        execute: (approved, db) => liftBlock(db, runtime.keyring, approved),
      })
      return { approval: done }
    },
  )

  app.post(
    '/approvals/:id/cancel',
    {
      config: { access: OFFICERS },
      schema: { tags: ['security'], summary: 'Withdraw an open request', params: idParams },
    },
    async (request) => {
      const { id } = request.params as { id: number }
      await cancelApproval(approvals(request.session as Session), id)
      return { approval: await findApproval(runtime.db.kysely, id) }
    },
  )
}
