import { createReadStream, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import { checkDocument } from '../../anonymize/index.js'
import { enqueueJob } from '../../jobs/index.js'
import { TokumeiError } from '../../model/index.js'
import {
  APPLICATION_SCHEMA,
  activeContract,
  applyForProject,
  CONTRACT_SCHEMA,
  checkPublication,
  createDelivery,
  findPolicy,
  findProject,
  type GovernanceContext,
  listDeliveries,
  listPolicies,
  listProjects,
  type ProjectView,
  parseQuery,
  parseSpec,
  recipientKeyId,
  reviewProject,
  signContract,
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
const STAFF_VIEW = ['admin', 'reviewer', 'anonymization_engineer', 'researcher'] as const
const APPLICANTS = { roles: ['researcher', 'admin'] } as const
const REVIEWERS = { roles: ['reviewer'] } as const
const RELEASE_VIEW = { roles: ['admin', 'anonymization_engineer', 'reviewer'] } as const
const BUILDERS = { roles: ['admin', 'anonymization_engineer'] } as const
/** The jobs the portal queues for the core, and so may show. */
const PORTAL_JOBS = ['release.build', 'stats.query'] as const

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

const objectBody = (name: string, summary: string) =>
  ({
    type: 'object',
    required: [name],
    additionalProperties: false,
    properties: { [name]: { type: 'object', description: summary } },
  }) as const

const releaseParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' } },
} as const

/** A built package's report.json (the console draws it); null when the package is gone. */
function readReport(dir: string): unknown {
  try {
    return JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))
  } catch {
    return null
  }
}

/** A researcher sees the projects they applied for; reviewers, engineers and administrators see all. */
const visibleTo = (session: Session, project: ProjectView) =>
  session.account.roles.some((r) => r === 'admin' || r === 'reviewer' || r === 'anonymization_engineer') ||
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
    '/projects/:code/contract',
    {
      config: { access: { roles: ['admin'] } },
      schema: {
        tags: ['provision'],
        summary: 'Sign the contract of an approved project (recipients and their keys, purposes, dates)',
        params: codeParams,
        body: { type: 'object', description: 'the contract terms, as docs/provision.md describes' },
      },
    },
    async (request, reply) => {
      const session = request.session as Session
      const { code } = request.params as { code: string }
      const terms = checkDocument(CONTRACT_SCHEMA, request.body, 'The contract', 'contract.bad_terms')
      const contract = await signContract(governance(session), code, terms, recipientKeyId)
      return reply.status(201).send({ contract })
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

  /** Queues a job for the core once the project's contract is found active; audited as requested. */
  const queue = async (
    session: Session,
    code: string,
    kind: (typeof PORTAL_JOBS)[number],
    payload: Record<string, unknown>,
  ): Promise<number> => {
    await activeContract(runtime.db.kysely, code)
    const job = await enqueueJob(runtime.db.kysely, { kind, payload }, { maxAttempts: 1 })
    await runtime.audit({
      actor: `account:${session.account.username}`,
      action: `${kind.split('.')[0]}.requested`,
      target: `job:${job.id}`,
      detail: { project: code },
    })
    return job.id
  }

  app.post(
    '/projects/:code/releases',
    {
      config: { access: BUILDERS },
      schema: {
        tags: ['provision'],
        summary:
          'Queue a release build for the core (a spec as docs/provision.md describes, without project)',
        params: codeParams,
        body: {
          type: 'object',
          required: ['spec'],
          additionalProperties: false,
          properties: {
            spec: { type: 'object', description: 'the release spec, without project and policy' },
            policy: {
              type: 'string',
              pattern: '^[a-z0-9][a-z0-9_-]{0,63}$',
              description: 'a stored policy (GET /policies); default when left out',
            },
          },
        },
      },
    },
    async (request, reply) => {
      const session = request.session as Session
      const { code } = request.params as { code: string }
      const body = request.body as { spec: Record<string, unknown>; policy?: string }
      if ('policy' in body.spec)
        throw new TokumeiError(
          "A spec sent to the portal cannot name a policy file (files are on the core host): choose a stored policy with the request's `policy` field, or build on the core with `tokumei release build --spec FILE`.",
          { code: 'release.bad_spec', kind: 'invalid' },
        )
      const text = JSON.stringify({ ...body.spec, project: code })
      const named =
        body.policy && body.policy !== 'default'
          ? await findPolicy(runtime.db.kysely, body.policy)
          : undefined
      const specText = named ? JSON.stringify({ ...body.spec, project: code, policy: named.name }) : text
      // Checked here, so that a wrong spec or a missing contract is an answer now, not a failed job.
      parseSpec(specText, 'the spec', undefined, named)
      return reply.status(202).send({
        job: await queue(session, code, 'release.build', {
          spec: specText,
          ...(named ? { policy: named } : {}),
        }),
      })
    },
  )

  app.post(
    '/projects/:code/statistics',
    {
      config: { access: BUILDERS },
      schema: {
        tags: ['provision'],
        summary: 'Queue a statistical query for the core (docs/provision.md; without project)',
        params: codeParams,
        body: objectBody('query', 'the query: dimensions, measure, cohort, threshold, rounding'),
      },
    },
    async (request, reply) => {
      const session = request.session as Session
      const { code } = request.params as { code: string }
      const query = { ...(request.body as { query: Record<string, unknown> }).query, project: code }
      parseQuery(query, 'the query')
      return reply.status(202).send({ job: await queue(session, code, 'stats.query', { query }) })
    },
  )

  app.get(
    '/jobs/:id',
    {
      config: { access: RELEASE_VIEW },
      schema: {
        tags: ['provision'],
        summary: 'A queued release build or statistical query: its state, and its result when done',
        params: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: { id: { type: 'integer', minimum: 1 } },
        },
      },
    },
    async (request) => {
      const { id } = request.params as { id: number }
      const job = await runtime.db.kysely
        .selectFrom('jobs.job')
        .select([
          'id',
          'kind',
          'status',
          'created_at',
          'started_at',
          'finished_at',
          'last_error',
          'result',
          'progress',
        ])
        .where('id', '=', id)
        .where('kind', 'in', [...PORTAL_JOBS])
        .executeTakeFirst()
      if (!job)
        throw new TokumeiError(`There is no release build or statistical query job ${id}.`, {
          code: 'jobs.not_found',
          kind: 'not_found',
        })
      return {
        job: {
          id: job.id,
          kind: job.kind,
          status: job.status,
          created: job.created_at,
          started: job.started_at,
          finished: job.finished_at,
          error: job.last_error,
          result: job.result,
          progress: job.progress,
        },
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
    '/policies',
    {
      config: { access: BUILDERS },
      schema: {
        tags: ['provision'],
        summary: 'The policies a release may choose (default and the stored ones)',
      },
    },
    async () => ({ policies: await listPolicies(runtime.db.kysely) }),
  )

  app.get(
    '/releases/:id',
    {
      config: { access: RELEASE_VIEW },
      schema: {
        tags: ['provision'],
        summary: 'One release: its spec, its report (measures, risk, class sizes) and its deliveries',
        params: releaseParams,
      },
    },
    async (request) => {
      const { id } = request.params as { id: string }
      const row = await runtime.db.kysely
        .selectFrom('governance.release as r')
        .innerJoin('governance.project as p', 'p.id', 'r.project_id')
        .innerJoin('governance.contract as c', 'c.id', 'r.contract_id')
        .select([
          'r.id',
          'r.kind',
          'r.state',
          'r.persons',
          'r.spec',
          'r.dir',
          'r.started_at',
          'r.finished_at',
          'r.error',
          'r.built_by',
          'p.code as project',
          'c.code as contract',
          'c.recipients',
        ])
        .where('r.id', '=', id)
        .executeTakeFirst()
      if (!row)
        throw new TokumeiError(`There is no release ${id}.`, { code: 'release.not_found', kind: 'not_found' })
      const { dir, recipients, ...release } = row
      return {
        release: {
          ...release,
          recipients: recipients.map((r) => ({ name: r.name, organisation: r.organisation })),
          report: dir && row.state === 'built' ? readReport(dir) : null,
          deliveries: await listDeliveries(runtime.db.kysely, id),
        },
      }
    },
  )

  app.post(
    '/releases/:id/deliveries',
    {
      config: { access: BUILDERS },
      schema: {
        tags: ['provision'],
        summary:
          "Deliver a built release to a contract's recipient: encrypted to their key, behind a limited link",
        params: releaseParams,
        body: {
          type: 'object',
          required: ['recipient'],
          additionalProperties: false,
          properties: {
            recipient: { type: 'string', minLength: 1, maxLength: 200 },
            hours: { type: 'integer', minimum: 1, maximum: 720 },
            downloads: { type: 'integer', minimum: 1, maximum: 20 },
          },
        },
      },
    },
    async (request, reply) => {
      const session = request.session as Session
      const { id } = request.params as { id: string }
      const body = request.body as { recipient: string; hours?: number; downloads?: number }
      const delivery = await createDelivery(deliveryContext(runtime, `account:${session.account.username}`), {
        release: id,
        ...body,
      })
      return reply.status(201).send({ delivery, path: `/api/portal/v1/downloads/${delivery.token}` })
    },
  )

  app.get(
    '/deliveries',
    {
      config: { access: { roles: ['admin', 'anonymization_engineer', 'researcher'] } },
      schema: {
        tags: ['provision'],
        summary: "Deliveries (a researcher's: those of their own projects), with what is left of each link",
      },
    },
    async (request) => {
      const session = request.session as Session
      const own = new Set(
        (await listProjects(governance(session))).filter((p) => visibleTo(session, p)).map((p) => p.code),
      )
      const releases = await runtime.db.kysely
        .selectFrom('governance.release as r')
        .innerJoin('governance.project as p', 'p.id', 'r.project_id')
        .select(['r.id', 'p.code'])
        .execute()
      const projectOf = new Map(releases.map((r) => [r.id, r.code]))
      return {
        deliveries: (await listDeliveries(runtime.db.kysely))
          .map((d) => ({ ...d, project: projectOf.get(d.release) ?? null }))
          .filter((d) => d.project !== null && own.has(d.project)),
      }
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
