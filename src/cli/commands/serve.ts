import type { AddressInfo } from 'node:net'
import type { Command } from 'commander'
import pino from 'pino'
import { ZONES, type Zone } from '../../config/index.js'
import { describeFailure, type Worker } from '../../jobs/index.js'
import { TokumeiError } from '../../model/index.js'
import { createWorker, monitorContext, openRuntime } from '../../runtime/index.js'
import { startMonitor } from '../../security/index.js'
import { buildServer } from '../../server/index.js'
import type { Define } from '../main.js'

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/

export function parseZone(value: unknown): Zone | undefined {
  if (value === undefined) return undefined
  if (!ZONES.includes(value as Zone)) {
    throw new TokumeiError(`--zone must be one of ${ZONES.join(', ')} (got "${String(value)}").`, {
      code: 'cli.bad_zone',
      kind: 'invalid',
    })
  }
  return value as Zone
}

export function parsePort(value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  const port = Number(value)
  if (!/^\d+$/.test(String(value)) || port > 65535) {
    throw new TokumeiError(`--port must be an integer from 0 to 65535 (got "${String(value)}").`, {
      code: 'cli.bad_port',
      kind: 'invalid',
    })
  }
  return port
}

export function registerServeCommand(program: Command, define: Define): void {
  program
    .command('serve')
    .description('run the HTTP server (all zones in one process, or one zone) and, for the core, the workers')
    .option('--zone <zone>', `serve one zone only: ${ZONES.join(', ')}`)
    .option('--port <port>', 'port to listen on (default 8080, or TOKUMEI_PORT)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1, or TOKUMEI_HOST)')
    .option('--no-workers', 'do not run job workers in this process')
    .action(
      define(async ({ config, out, onShutdown }, options) => {
        const cfg = await config()
        const zone = parseZone(options.zone)
        const port = parsePort(options.port, cfg.server.port)
        const host = (options.host as string | undefined) ?? cfg.server.host
        if (zone === 'core' && !LOOPBACK.test(host)) {
          throw new TokumeiError(
            `The core zone takes no inbound network connections: it listens on loopback only (got --host ${host}).`,
            { code: 'cli.core_not_loopback', kind: 'invalid' },
          )
        }
        const runtime = await openRuntime(cfg, { zone })
        const logger = pino({ level: cfg.log.level, base: { zone: zone ?? 'all' } }, pino.destination(2))
        let worker: Worker | undefined
        let monitor: ReturnType<typeof startMonitor> | undefined
        let workerDone: Promise<unknown> = Promise.resolve()
        let workersFailed = false
        try {
          const app = await buildServer(runtime, { zone, logger })
          const address = await app.listen({ port, host }).catch((error: NodeJS.ErrnoException) => {
            throw listenError(error, host, port)
          })
          const listening = (app.server.address() as AddressInfo).port
          await runtime.audit({ action: 'server.start', detail: { zone: zone ?? 'all', port: listening } })
          if (options.workers !== false && (zone === undefined || zone === 'core')) {
            worker = createWorker(runtime, {
              onJobFailed: (job, error, willRetry) =>
                logger.warn({ job: job.id, kind: job.kind, will_retry: willRetry, error }, 'job failed'),
              onTaskFailed: (task, error) => logger.warn({ task, error }, 'periodic task failed'),
              onLoopError: (error, count) =>
                logger.error({ error, consecutive: count }, 'worker loop failed; retrying'),
            })
            // The monitor runs beside the workers and wakes on each audit append: a hit blocks at once.
            monitor = startMonitor(monitorContext(runtime), {
              listen: (channel, onNotify) => runtime.db.listen(channel, onNotify),
              onHit: (hit) => logger.warn({ rule: hit.rule, subject: hit.subject }, 'monitor: blocked'),
              onError: (error) => logger.error({ error: describeFailure(error) }, 'monitor pass failed'),
            })
            // A worker that gives up (database gone for good) stops the server: a supervisor restarts it.
            workerDone = worker.run().catch((error) => {
              logger.fatal({ error: describeFailure(error) }, 'workers stopped')
              workersFailed = true
              process.kill(process.pid, 'SIGTERM')
            })
          }
          out.result(
            { url: address, zone: zone ?? 'all', workers: worker !== undefined },
            `tokumei serves ${zone ? `the ${zone} zone` : 'all zones'} on ${address} (API docs at ${address}/docs)${worker ? ', with workers' : ''}. Stop with Ctrl-C.`,
          )
          await new Promise<void>((resolve) => onShutdown(resolve))
          out.progress('Stopping: finishing the job in hand, closing connections…')
          worker?.stop()
          await Promise.all([app.close(), workerDone, monitor?.stop()])
          if (workersFailed) return 1
          await runtime.audit({ action: 'server.stop', detail: { zone: zone ?? 'all' } })
          return 0
        } finally {
          await runtime.close()
        }
      }),
    )
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const reasons: Record<string, string> = {
    EADDRINUSE: `port ${port} on ${host} is already in use: stop the other server or choose another with --port or TOKUMEI_PORT`,
    EACCES: `this user may not listen on port ${port}: choose a port above 1023 with --port or TOKUMEI_PORT`,
    EADDRNOTAVAIL: `${host} is not an address of this machine: fix --host or TOKUMEI_HOST`,
    ENOTFOUND: `the host name ${host} is unknown: fix --host or TOKUMEI_HOST`,
  }
  const reason = error.code ? reasons[error.code] : undefined
  if (!reason) return error
  return new TokumeiError(`Cannot listen: ${reason}.`, {
    code: 'server.listen_failed',
    kind: 'unavailable',
    cause: error,
  })
}
