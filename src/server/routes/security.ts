import type { FastifyPluginAsync } from 'fastify'
import { TokumeiError } from '../../model/index.js'
import { authContext, type Runtime } from '../../runtime/index.js'
import {
  type ApprovalContext,
  approveRequest,
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
