import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'

/**
 * The web console (`web/`, built by `npm run build` into dist/web): its page at `/` and its files
 * under `/assets/`. Routing inside the console is by the URL's fragment, so no other path is needed.
 * The files are public (the page holds no data); what it shows comes from the API, under its rules.
 */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url))

/**
 * The console's own policy, stricter than the API documentation page's: no inline script or style
 * at all, connections to this origin only, no framing, forms posting nowhere else.
 */
const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const NOT_BUILT = `<!doctype html><html lang="ja"><meta charset="utf-8"><title>tokumei</title>
<p>コンソールがビルドされていません: <code>npm run build</code> を実行してください。</p>
<p>The console is not built: run <code>npm run build</code>.</p></html>`

export const consoleRoutes: FastifyPluginAsync = async (app) => {
  const built = existsSync(`${CONSOLE_DIR}index.html`)
  if (built) await app.register(fastifyStatic, { root: CONSOLE_DIR, serve: false })
  const page = { access: 'public' as const }

  app.get('/', { config: page, schema: { hide: true } }, async (_request, reply) => {
    if (!built) return reply.status(503).type('text/html; charset=utf-8').send(NOT_BUILT)
    // The page itself may be cached briefly; its files are content-hashed and cached for good.
    return reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CONSOLE_CSP)
      .sendFile('index.html', { cacheControl: false })
  })

  app.get('/assets/*', { config: page, schema: { hide: true } }, async (request, reply) => {
    const file = (request.params as { '*': string })['*']
    if (!built || !/^[A-Za-z0-9._-]+$/.test(file))
      return reply.status(404).send({
        error: {
          code: 'route.not_found',
          message: 'There is no such file.',
          details: {},
          request_id: request.id,
        },
      })
    return reply.sendFile(`assets/${file}`, { maxAge: 31_536_000_000, immutable: true })
  })
}
