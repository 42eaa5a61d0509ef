import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { loadConfig } from '../../src/config/index.js'
import { openRuntime, type Runtime } from '../../src/runtime/index.js'
import { buildServer } from '../../src/server/index.js'
import { masterKeyEnv, type TestDatabase } from './database.js'

export interface TestServer {
  readonly app: FastifyInstance
  readonly runtime: Runtime
  /** Every log line the server wrote so far (level trace), for the canary checks. */
  logs(): string
}

/**
 * The HTTP server on a test database, with its logs captured. `env` adds configuration (e.g.
 * TOKUMEI_MAX_FILE_BYTES); `routes` may add routes before the server is made ready.
 */
export async function startTestServer(
  t: TestDatabase,
  options: { env?: Record<string, string>; routes?: (app: FastifyInstance) => void } = {},
): Promise<TestServer> {
  const config = loadConfig({
    env: { TOKUMEI_MASTER_KEY: masterKeyEnv(t.master), ...options.env },
    cwd: mkdtempSync(join(tmpdir(), 'tk-srv-')),
  })
  const runtime = await openRuntime(config, { db: t.db, actor: 'system:test' })
  let logs = ''
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs += chunk
      done()
    },
  })
  const app = await buildServer(runtime, { logger: pino({ level: 'trace' }, sink) })
  options.routes?.(app)
  await app.ready()
  return { app, runtime, logs: () => logs }
}
