import { createReadStream } from 'node:fs'
import type { FastifyPluginAsync } from 'fastify'
import { checkDocument } from '../../anonymize/index.js'
import { TokumeiError } from '../../model/index.js'
import {
  APPLICATION_SCHEMA,
  applyForProject,
  checkPublication,
  findProject,
  type GovernanceContext,
  listProjects,
  type ProjectView,
  reviewProject,
  takeDownload,
} from '../../release/index.js'
import { authContext, deliveryContext, type Runtime } from '../../runtime/index.js'
import { personOf, type Session, verifyPerson } from '../../security/index.js'

/**
 * Provision in the portal zone: applications (a researcher's own), the committee's reviews (with a
 * fresh TOTP code on top of the session), publication checks, the list of releases, and the
 * download of a delivered package by its link — the link's secret is the credential, so that route
 * is public; it answers only with the encrypted package, and every attempt is audited.
 */
const STAFF_VIEW = ['admin', 'reviewer', 'researcher'] as const
const APPLICANTS = { roles: ['researcher', 'admin'] } as const
const REVIEWERS = { roles: ['reviewer'] } as const
const RELEASE_VIEW = { roles: ['admin', 'anonymization_engineer', 'reviewer'] } as const

const codeParams = {
  type: 'object',
  required: ['code'],
  additionalProperties: false,
  properties: { code: { type: 'string', pattern: '^P-\\d{4}-\\d{4,}$' } },
} as const

const reviewBody = {
  type: 'object',
  required: ['decision', 'code'],
  additionalProperties: false,
  properties: {
    decision: { type: 'string', enum: ['approve', 'reject'] },
    comment: { type: 'string', maxLength: 2000 },
    code: { type: 'string', minLength: 1, maxLength: 16 },
  },
} as const

const publicationBody = {
  type: 'object',
  required: ['file', 'csv'],
  additionalProperties: false,
  properties: {
    file: { type: 'string', minLength: 1, maxLength: 200 },
    csv: { type: 'string', minLength: 1, maxLength: 5_000_000 },
    threshold: { type: 'integer', minimum: 2, maximum: 100 },
  },
} as const

/** A researcher sees the projects they applied for; reviewers and administrators see all. */
const visibleTo = (session: Session, project: ProjectView) =>
  session.account.roles.some((r) => r === 'admin' || r === 'reviewer') ||
  personOf(project.appliedBy) === session.account.username.toLowerCase()

export const provisionRoutes: FastifyPluginAsync<{ runtime: Runtime }> = async (app, { runtime }) => {
  const governance = (session: Session): GovernanceContext => ({
    db: runtime.db.kysely,
    keyring: runtime.keyring,
    actor: `account:${session.account.username}`,
  })
  const visibleProject = async (session: Session, code: string) => {
    const project = await findProject(governance(session), code)
    if (!visibleTo(session, project))
      throw new TokumeiError(`There is no project ${code}: see \`tokumei project list\`.`, {
        code: 'project.not_found',
        kind: 'not_found',
      })
    return project
  }

  app.get(
    '/projects',
    {
      config: { access: { roles: STAFF_VIEW } },
      schema: { tags: ['provision'], summary: 'Projects (a researcher’s own)' },
    },
    async (request) => {
      const session = request.session as Session
      return { projects: (await listProjects(governance(session))).filter((p) => visibleTo(session, p)) }
    },
  )

  app.post(
    '/projects',
    {
      config: { access: APPLICANTS },
      schema: { tags: ['provision'], summary: 'Apply for data (利用申請)', body: { type: 'object' } },
    },
    async (request, reply) => {
      const application = checkDocument(
        APPLICATION_SCHEMA,
        request.body,
        'The application',
        'project.bad_application',
      )
      const project = await applyForProject(governance(request.session as Session), application)
      return reply.status(201).send({ project })
    },
  )

  app.get(
    '/projects/:code',
    {
      config: { access: { roles: STAFF_VIEW } },
      schema: {
        tags: ['provision'],
        summary: 'One project: application, reviews, contract',
        params: codeParams,
      },
    },
    async (request) => ({
      project: await visibleProject(request.session as Session, (request.params as { code: string }).code),
    }),
  )

  app.post(
    '/projects/:code/reviews',
    {
      config: { access: REVIEWERS },
      schema: {
        tags: ['provision'],
        summary: "A committee member's decision on the current version, with a fresh TOTP code",
        params: codeParams,
        body: reviewBody,
      },
    },
    async (request) => {
      const session = request.session as Session
      const { code } = request.params as { code: string }
      const body = request.body as { decision: 'approve' | 'reject'; comment?: string; code: string }
      const reviewer = await verifyPerson(authContext(runtime), {
        username: session.account.username,
        code: body.code,
        source: request.ip,
        session,
      })
      const project = await reviewProject(governance(session), {
        code,
        reviewer,
        decision: body.decision,
        comment: body.comment,
      })
      return { project }
    },
  )

  app.post(
    '/projects/:code/publication-checks',
    {
      config: { access: { roles: ['researcher', 'admin', 'reviewer'] } },
      schema: {
        tags: ['provision'],
        summary: 'Check tables to be published (公表物確認): counts under the threshold are flagged',
        params: codeParams,
        body: publicationBody,
      },
    },
    async (request) => {
      const session = request.session as Session
      const { code } = request.params as { code: string }
      await visibleProject(session, code)
      const body = request.body as { file: string; csv: string; threshold?: number }
      return {
        check: await checkPublication(
          { db: runtime.db.kysely, keyring: runtime.keyring, actor: `account:${session.account.username}` },
          { project: code, file: body.file, text: body.csv, threshold: body.threshold },
        ),
      }
    },
  )

  app.get(
    '/releases',
    {
      config: { access: RELEASE_VIEW },
      schema: { tags: ['provision'], summary: 'Releases and statistics packages' },
    },
    async () => {
      const rows = await runtime.db.kysely
        .selectFrom('governance.release as r')
        .innerJoin('governance.project as p', 'p.id', 'r.project_id')
        .select([
          'r.id',
          'r.kind',
          'r.state',
          'r.persons',
          'r.started_at',
          'r.finished_at',
          'r.error',
          'p.code as project',
        ])
        .orderBy('r.started_at', 'desc')
        .limit(500)
        .execute()
      return { releases: rows }
    },
  )

  app.get(
    '/downloads/:token',
    {
      config: { access: 'public', rateLimit: { max: 20, timeWindow: '1 minute' } },
      schema: {
        tags: ['provision'],
        summary:
          'Download a delivered package by its link (encrypted to the recipient; time- and count-limited)',
        params: {
          type: 'object',
          required: ['token'],
          additionalProperties: false,
          properties: { token: { type: 'string', minLength: 1, maxLength: 200 } },
        },
      },
    },
    async (request, reply) => {
      const { token } = request.params as { token: string }
      const { path, delivery } = await takeDownload(
        deliveryContext(runtime, `download:${request.ip}`),
        token,
        request.ip,
      )
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-disposition', `attachment; filename="${delivery.release}.tkp"`)
        .header('content-length', String(delivery.bytes))
        .send(createReadStream(path))
    },
  )
}
