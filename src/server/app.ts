import { randomUUID } from 'node:crypto'
import cookie from '@fastify/cookie'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify'
import type { Logger } from 'pino'
import type { Zone } from '../config/index.js'
import { fromDatabaseError } from '../db/index.js'
import { isTokumeiError } from '../model/index.js'
import type { Runtime } from '../runtime/index.js'
import { TOKUMEI_VERSION } from '../version.js'
import { enforceAccess } from './access.js'
import { authRoutes } from './routes/auth.js'
import { consoleRoutes } from './routes/console.js'
import { gatewayRoutes } from './routes/gateway.js'
import { healthRoutes } from './routes/health.js'
import { linkageRoutes } from './routes/linkage.js'
import { operationsRoutes } from './routes/operations.js'
import { provisionRoutes } from './routes/provision.js'
import { publicRoutes } from './routes/public.js'
import { securityRoutes } from './routes/security.js'

export interface BuildServerOptions {
  /** One zone's routes only; undefined serves all three zones (the embedded default). */
  readonly zone?: Zone
  readonly logger?: Logger
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/

/**
 * One Fastify app per zone. What every zone shares is here: request ids, security headers, the
 * OpenAPI document, logs without bodies, and the single TokumeiError → HTTP status mapping.
 */
export async function buildServer(
  runtime: Runtime,
  options: BuildServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger as FastifyBaseLogger } : { logger: false }),
    // Accept a caller's request id only when it is harmless; otherwise mint one.
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    // Fastify's own request lines would log the full URL; ours (below) logs the route pattern only.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    // Strict bodies: a field the schema does not name is refused (Fastify's default strips it).
    ajv: { customOptions: { removeAdditional: false } },
  })
  await app.register(cookie)
  // Limits are set per route (`config.rateLimit`), e.g. on sign-in: guessing is slowed per address.
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`Too many requests from this address: try again in ${context.after}.`), {
        statusCode: context.statusCode,
      }),
  })
  enforceAccess(app, runtime)

  // Our own request log: method, route pattern, status and time. Never the URL's query string, a
  // header value or a body — any of them could carry personal data.
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(no route)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    )
  })
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
  })

  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        // The docs page (Swagger UI) needs its own inline style and script.
        scriptSrc: ["'self'", "'unsafe-inline'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        frameAncestors: ["'none'"],
        // Plain HTTP on loopback is how the embedded default runs; TLS is the front proxy's job.
        upgradeInsecureRequests: null,
      },
    },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    referrerPolicy: { policy: 'no-referrer' },
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: `tokumei${options.zone ? ` — ${options.zone} zone` : ''}`,
        version: TOKUMEI_VERSION,
        description:
          'The API of a certified medical-data agency (認定匿名加工医療情報作成事業者) under the Next-Generation Medical Infrastructure Act.',
      },
      tags: [
        { name: 'operations', description: 'Health and readiness probes' },
        {
          name: 'gateway',
          description: 'Institutions submit data and read their receipts and holdings (API key)',
        },
        {
          name: 'patients',
          description: "The patients' page: institutions, 提供停止 requests and their state (no sign-in)",
        },
        {
          name: 'provision',
          description: 'Applications, reviews, publication checks, releases and downloads (portal)',
        },
      ],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () =>
    app.swagger(),
  )

  app.setErrorHandler((raw: FastifyError, request, reply) => {
    const mapped = fromDatabaseError(raw)
    const error = mapped as FastifyError
    if (isTokumeiError(mapped)) {
      if (mapped.httpStatus >= 500) request.log.error({ code: mapped.code }, 'request failed')
      return reply.status(mapped.httpStatus).send({ error: { ...mapped.toJSON(), request_id: request.id } })
    }
    if (error.validation) {
      return reply.status(400).send({
        error: {
          code: 'request.invalid',
          message: `The request is not valid: ${error.message}.`,
          details: {},
          request_id: request.id,
        },
      })
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      const code = error.statusCode === 429 ? 'request.rate_limited' : 'request.rejected'
      return reply.status(error.statusCode).send({
        error: { code, message: error.message, details: {}, request_id: request.id },
      })
    }
    // Unknown errors may quote data: log the class only, answer with the request id to quote.
    request.log.error({ error_class: error.name, code: error.code }, 'unexpected error')
    return reply.status(500).send({
      error: {
        code: 'internal',
        message: `Something went wrong on our side: quote request id ${request.id} to the operators.`,
        details: {},
        request_id: request.id,
      },
    })
  })
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: 'route.not_found',
        message: `There is no ${request.method} route here${options.zone ? ` in the ${options.zone} zone` : ''}: see /openapi.json.`,
        details: {},
        request_id: request.id,
      },
    }),
  )

  await app.register(healthRoutes, { runtime, zone: options.zone })
  if (options.zone === undefined || options.zone === 'gateway') {
    await app.register(gatewayRoutes, { runtime, prefix: '/api/gateway/v1' })
  }
  if (options.zone === undefined || options.zone === 'core') {
    await app.register(linkageRoutes, { runtime, prefix: '/api/core/v1' })
    await app.register(operationsRoutes, { runtime, prefix: '/api/core/v1' })
  }
  if (options.zone === undefined || options.zone === 'portal') {
    await app.register(authRoutes, { runtime, prefix: '/api/auth/v1' })
    await app.register(securityRoutes, { runtime, prefix: '/api/portal/v1' })
    await app.register(provisionRoutes, { runtime, prefix: '/api/portal/v1' })
    await app.register(publicRoutes, { runtime, prefix: '/api/public/v1' })
    // The web console; its pages call the core's routes too, which the embedded default serves alongside.
    await app.register(consoleRoutes)
  }
  return app
}
