import type { FastifyPluginAsync } from 'fastify'
import { findOptOutRequest, submitOptOutRequest } from '../../intake/index.js'
import type { Runtime } from '../../runtime/index.js'

/**
 * The patients' page (portal zone, no sign-in): the institutions that provide data, a 提供停止 request
 * and its state by receipt number. A request's patient ID and birth date are sealed at once and never
 * shown again, to anyone; the answer says only whether it was received, registered or needs the
 * institution to confirm the person. Requests are limited per address, like sign-in.
 */
const REQUESTS = { max: 5, timeWindow: '1 minute' } as const

export const publicRoutes: FastifyPluginAsync<{ runtime: Runtime }> = async (app, { runtime }) => {
  app.get(
    '/institutions',
    {
      config: { access: 'public' },
      schema: {
        tags: ['patients'],
        summary: 'The institutions that provide data to the agency (code and name)',
      },
    },
    async () => ({
      institutions: await runtime.db.kysely
        .selectFrom('governance.institution')
        .select(['code', 'name'])
        .orderBy('code')
        .execute(),
    }),
  )

  app.post(
    '/optout-requests',
    {
      config: { access: 'public', rateLimit: REQUESTS },
      schema: {
        tags: ['patients'],
        summary: '提供停止: ask that your records are no longer provided (answers with a receipt number)',
        body: {
          type: 'object',
          required: ['institution', 'patientId', 'birthDate'],
          additionalProperties: false,
          properties: {
            institution: { type: 'string', minLength: 10, maxLength: 10 },
            patientId: { type: 'string', minLength: 1, maxLength: 64 },
            birthDate: { type: 'string', minLength: 8, maxLength: 10 },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { institution: string; patientId: string; birthDate: string }
      const created = await submitOptOutRequest(
        { db: runtime.db.kysely, keyring: runtime.keyring, actor: `patients-page:${request.ip}` },
        body,
      )
      return reply.status(202).send({ request: created })
    },
  )

  app.get(
    '/optout-requests/:receipt',
    {
      config: { access: 'public', rateLimit: { max: 30, timeWindow: '1 minute' } },
      schema: {
        tags: ['patients'],
        summary: "A request's state by its receipt number",
        params: {
          type: 'object',
          required: ['receipt'],
          additionalProperties: false,
          properties: { receipt: { type: 'string', minLength: 12, maxLength: 40 } },
        },
      },
    },
    async (request) => ({
      request: await findOptOutRequest(runtime.db.kysely, (request.params as { receipt: string }).receipt),
    }),
  )
}
