import type { Command } from 'commander'
import { TokumeiError } from '../../model/index.js'
import { type AuditEvent, tailAuditEvents, verifyAuditLog, writeCheckpoint } from '../../security/index.js'
import type { Define } from '../main.js'

const eventJson = (e: AuditEvent) => ({
  seq: e.seq,
  at: e.at.toISOString(),
  actor: e.actor,
  action: e.action,
  target: e.target,
  outcome: e.outcome,
  detail: e.detail,
})

const eventLine = (e: AuditEvent) =>
  [
    String(e.seq).padStart(6),
    e.at.toISOString(),
    e.outcome.padEnd(6),
    e.action,
    e.target ?? '-',
    e.actor,
    JSON.stringify(e.detail),
  ].join('  ')

export function registerAuditCommands(program: Command, define: Define): void {
  const audit = program.command('audit').description('the hash-chained audit log')
  audit
    .command('verify')
    .description('recompute the whole chain and check every signed checkpoint; exit 1 on any tampering')
    .action(
      define(async ({ withRuntime, out }) => {
        return withRuntime(async (runtime) => {
          const result = await verifyAuditLog(runtime.db.kysely, runtime.keyring, (checked) => {
            if (checked % 10_000 === 0) out.progress(`checked ${checked} events…`)
          })
          if (result.ok) {
            out.result(
              result,
              `Audit log intact: ${result.events} event(s), ${result.checkpoints} signed checkpoint(s)${result.lastCheckpointSeq ? ` (last at event ${result.lastCheckpointSeq})` : ''}.`,
            )
            return 0
          }
          out.result(result, [
            `Audit log TAMPERED: the first bad event is ${result.firstBadSeq}.`,
            ...result.problems.slice(0, 20).map((p) => `  event ${p.seq}: ${p.message}`),
            ...(result.problems.length > 20 ? [`  … and ${result.problems.length - 20} more`] : []),
          ])
          return 1
        })
      }),
    )
  audit
    .command('tail')
    .description('print the newest events; with --follow, keep printing new ones')
    .option('-n, --lines <n>', 'how many of the newest events to print first', '20')
    .option('-f, --follow', 'wait for new events (Ctrl-C to stop)')
    .action(
      define(async ({ withRuntime, out, onShutdown }, options) => {
        const last = Number(options.lines)
        if (!Number.isInteger(last) || last < 0) {
          throw new TokumeiError(`--lines must be a whole number (got "${String(options.lines)}").`, {
            code: 'cli.bad_lines',
            kind: 'invalid',
          })
        }
        const stop = new AbortController()
        onShutdown(() => stop.abort())
        return withRuntime(async (runtime) => {
          const follow = Boolean(options.follow)
          for await (const event of tailAuditEvents(runtime.db.kysely, {
            last,
            follow,
            signal: stop.signal,
          })) {
            out.line(eventJson(event), eventLine(event))
          }
          return 0
        })
      }),
    )
  audit
    .command('checkpoint')
    .description('sign the current head of the chain now (the workers also do it periodically)')
    .action(
      define(async ({ withRuntime, out }) => {
        return withRuntime(async (runtime) => {
          const checkpoint = await writeCheckpoint(runtime.db.kysely, runtime.keyring)
          out.result(
            checkpoint ? { seq: checkpoint.seq, keyId: checkpoint.keyId } : { seq: null },
            checkpoint
              ? `Signed a checkpoint at event ${checkpoint.seq}.`
              : 'Nothing new to sign since the last checkpoint.',
          )
          return 0
        })
      }),
    )
}
