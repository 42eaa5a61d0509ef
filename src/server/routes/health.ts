import type { FastifyPluginAsync } from 'fastify'
import type { Zone } from '../../config/index.js'
import { ping } from '../../db/index.js'
import type { Runtime } from '../../runtime/index.js'
import { TOKUMEI_VERSION } from '../../version.js'

const healthSchema = {
  type: 'object',
  required: ['status', 'version', 'zone'],
  properties: {
    status: { type: 'string', enum: ['ok'] },
    version: { type: 'string' },
    zone: { type: 'string', enum: ['gateway', 'core', 'portal', 'all'] },
  },
} as const

const readySchema = {
  type: 'object',
  required: ['status', 'database'],
  properties: {
    status: { type: 'string', enum: ['ready', 'unavailable'] },
    database: { type: 'string' },
  },
} as const

/** Liveness and readiness probes, the same in every zone. They reveal nothing but the version. */
export const healthRoutes: FastifyPluginAsync<{ runtime: Runtime; zone: Zone | undefined }> = async (
  app,
  { runtime, zone },
) => {
  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process answers',
        response: { 200: healthSchema },
      },
    },
    async () => ({ status: 'ok' as const, version: TOKUMEI_VERSION, zone: zone ?? 'all' }),
  )

  app.get(
    '/readyz',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the database answers',
        response: { 200: readySchema, 503: readySchema },
      },
    },
    async (_request, reply) => {
      try {
        await ping(runtime.db)
        return { status: 'ready' as const, database: runtime.db.dialect }
      } catch {
        return reply.status(503).send({ status: 'unavailable', database: runtime.db.dialect })
      }
    },
  )
}
