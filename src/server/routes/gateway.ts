import type { Readable } from 'node:stream'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { DeclaredFormat } from '../../db/index.js'
import {
  apiKeyRefused,
  authenticateInstitutionKey,
  findSubmission,
  type Institution,
  listQuarantine,
  listSubmissions,
  openSubmission,
  readHoldings,
  readReceipt,
  receiveArchive,
  receiveFiles,
  sealSubmission,
  spooledFileDigest,
} from '../../intake/index.js'
import { TokumeiError } from '../../model/index.js'
import { type Runtime, receiveContext } from '../../runtime/index.js'
import { blockedSubjects } from '../../security/index.js'

/**
 * The gateway zone's API: the only inbound door for institutions. Every route needs the
 * institution's API key (`Authorization: Bearer tkm_…`) and sees that institution's submissions only.
 * Bodies are files: they are never logged, and what is kept of them is encrypted.
 */
const FORMATS: readonly DeclaredFormat[] = ['auto', 'ssmix2', 'uke', 'fhir', 'dicom']

declare module 'fastify' {
  interface FastifyRequest {
    institution?: Institution & { keyId: string }
  }
}

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } },
} as const
const pathQuery = {
  type: 'object',
  required: ['path'],
  properties: { path: { type: 'string', minLength: 1, maxLength: 1024 } },
} as const

export const gatewayRoutes: FastifyPluginAsync<{ runtime: Runtime }> = async (app, { runtime }) => {
  const maxFileBytes = runtime.config.intake.maxFileBytes
  // Files arrive as raw bytes (one file) or a raw stream (a tar archive, possibly gzip-compressed).
  app.addContentTypeParser(
    ['application/octet-stream', 'application/gzip'],
    { parseAs: 'buffer', bodyLimit: maxFileBytes },
    (_request, body, done) => done(null, body),
  )
  app.addContentTypeParser(['application/x-tar', 'application/x-gtar'], (_request, payload, done) =>
    done(null, payload),
  )

  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    const key = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined
    try {
      const institution = await authenticateInstitutionKey(runtime.db.kysely, key)
      // A key or an address the monitor blocked gets the same answer as a wrong key.
      const blocked = await blockedSubjects(runtime.db.kysely, [
        `key:${institution.keyId}`,
        `source:${request.ip}`,
      ])
      if (blocked.size > 0) throw apiKeyRefused()
      request.institution = institution
    } catch (error) {
      await runtime.audit({
        actor: 'gateway:anonymous',
        action: 'gateway.auth',
        outcome: 'denied',
        detail: { route: request.routeOptions.url ?? '', source: request.ip },
      })
      throw error
    }
  })
  const who = (request: FastifyRequest) => {
    const institution = request.institution as Institution & { keyId: string }
    return { institution, actor: `institution:${institution.code}/key:${institution.keyId}` }
  }

  app.post(
    '/submissions',
    {
      config: { access: 'institution' },
      schema: {
        tags: ['gateway'],
        summary: 'Open a submission',
        body: {
          type: 'object',
          properties: { format: { type: 'string', enum: [...FORMATS] } },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const { institution, actor } = who(request)
      const format = ((request.body as { format?: DeclaredFormat } | undefined)?.format ??
        'auto') as DeclaredFormat
      const id = await openSubmission(receiveContext(runtime, actor), {
        institutionId: institution.id,
        declaredFormat: format,
        channel: 'api',
      })
      await runtime.audit({ actor, action: 'intake.opened', target: `submission:${id}`, detail: { format } })
      return reply.status(201).send({ id })
    },
  )

  app.put(
    '/submissions/:id/files',
    {
      config: { access: 'institution' },
      schema: {
        tags: ['gateway'],
        summary: 'Send one file (raw bytes; gzip allowed)',
        params: idParams,
        querystring: pathQuery,
      },
    },
    async (request) => {
      const { institution, actor } = who(request)
      const { id } = request.params as { id: number }
      const { path } = request.query as { path: string }
      if (!Buffer.isBuffer(request.body))
        throw new TokumeiError('Send the file as application/octet-stream.', {
          code: 'request.invalid',
          kind: 'invalid',
        })
      const [outcome] = await receiveFiles(
        receiveContext(runtime, actor),
        id,
        [{ path, bytes: request.body }],
        institution.id,
      )
      return outcome
    },
  )

  app.get(
    '/submissions/:id/files',
    {
      config: { access: 'institution' },
      schema: {
        tags: ['gateway'],
        summary: 'The SHA-256 of a file already received (to resume an upload)',
        params: idParams,
        querystring: pathQuery,
      },
    },
    async (request, reply) => {
      const { institution, actor } = who(request)
      const { id } = request.params as { id: number }
      // Another institution's submission is "not found", never "forbidden": ids reveal nothing.
      await findSubmission(runtime.db.kysely, id, institution.id)
      const sha256 = await spooledFileDigest(
        receiveContext(runtime, actor),
        id,
        (request.query as { path: string }).path,
      )
      if (!sha256)
        return reply.status(404).send({
          error: { code: 'file.not_found', message: 'No file was received under that path.', details: {} },
        })
      return { sha256 }
    },
  )

  app.put(
    '/submissions/:id/archive',
    {
      config: { access: 'institution' },
      schema: {
        tags: ['gateway'],
        summary: 'Send a tar archive (optionally gzip), streamed',
        params: idParams,
      },
    },
    async (request) => {
      const { institution, actor } = who(request)
      const { id } = request.params as { id: number }
      const outcomes = await receiveArchive(
        receiveContext(runtime, actor),
        id,
        request.body as Readable,
        institution.id,
      )
      return {
        spooled: outcomes.filter((o) => o.status !== 'quarantined').length,
        quarantined: outcomes.filter((o) => o.status === 'quarantined'),
      }
    },
  )

  app.post(
    '/submissions/:id/seal',
    {
      config: { access: 'institution' },
      schema: {
        tags: ['gateway'],
        summary: 'Seal the submission and get its receipt (受領記録)',
        params: idParams,
      },
    },
    async (request) => {
      const { institution, actor } = who(request)
      const { id } = request.params as { id: number }
      return sealSubmission(receiveContext(runtime, actor), id, institution.id)
    },
  )

  app.get(
    '/submissions',
    {
      config: { access: 'institution' },
      schema: {
        tags: ['gateway'],
        summary: "This institution's submissions, newest first (status and counts)",
      },
    },
    async (request) => {
      const { institution } = who(request)
      return {
        submissions: await listSubmissions(runtime.db.kysely, { institutionId: institution.id, limit: 100 }),
      }
    },
  )

  app.get(
    '/submissions/:id',
    {
      config: { access: 'institution' },
      schema: { tags: ['gateway'], summary: 'Status, counts and receipt of a submission', params: idParams },
    },
    async (request) => {
      const { institution } = who(request)
      const { id } = request.params as { id: number }
      const submission = await findSubmission(runtime.db.kysely, id, institution.id)
      const receipt = await readReceipt(runtime.db.kysely, id, institution.id)
      const quarantine = await listQuarantine(runtime.db.kysely, {
        submission: id,
        institutionId: institution.id,
      })
      return { ...submission, receipt: receipt ?? null, quarantine }
    },
  )

  app.get(
    '/holdings',
    {
      config: { access: 'institution' },
      schema: { tags: ['gateway'], summary: "What the agency holds of this institution's data (保有状況)" },
    },
    async (request) => {
      const { institution } = who(request)
      const [holdings] = await readHoldings(runtime.db.kysely, institution.id)
      return holdings
    },
  )
}
