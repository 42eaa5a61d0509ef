import type { Command } from 'commander'
import { TokumeiError } from '../../model/index.js'
import { authContext, monitorContext, type Runtime } from '../../runtime/index.js'
import {
  type AlertView,
  type ApprovalView,
  approveRequest,
  cancelApproval,
  deliverAlerts,
  findApproval,
  liftBlock,
  listAlerts,
  listApprovals,
  requestLift,
  rotateMasterKey,
  runMonitorOnce,
  startMonitor,
  verifyPerson,
} from '../../security/index.js'
import { idArgument } from '../args.js'
import type { Define } from '../main.js'
import { readCode, readPassword } from '../secrets.js'

/**
 * The monitor's alerts and the two-person requests, on the core host or through a server's API
 * (`--server`). A request is made by one person (`unblock`, `keys rotate`) and approved by another
 * (`approve`), who proves who they are with their own account: password and TOTP code on the core
 * host, a fresh TOTP code on top of their session through the API.
 */
const alertLine = (a: AlertView) =>
  `#${a.id} ${a.at} [${a.rule}] ${a.message}${a.block ? ` — block ${a.block.id}: ${a.block.state}` : ''}${a.delivery?.startsWith('failed') ? ` (webhook ${a.delivery})` : ''}`

const approvalLine = (a: ApprovalView) =>
  `#${a.id} ${a.state.padEnd(9)} ${a.description} — asked by ${a.requestedBy} at ${a.requestedAt}${a.approvedBy ? `, approved by ${a.approvedBy}` : ''}${a.state === 'open' ? ` (expires ${a.expiresAt})` : ''}`

export function registerMonitorCommands(program: Command, define: Define): void {
  program
    .command('alerts')
    .description("the monitor's alerts, newest first, with the state of each block")
    .option('--limit <n>', 'at most this many', '100')
    .action(
      define(
        async ({ withRuntime, out, remote }, options) => {
          const limit = Number(options.limit) || 100
          const api = remote()
          const alerts = api
            ? (await api.call<{ alerts: AlertView[] }>('GET', `/api/portal/v1/alerts?limit=${limit}`)).alerts
            : await withRuntime((runtime) => listAlerts(runtime.db.kysely, limit))
          out.result(alerts, alerts.length > 0 ? alerts.map(alertLine) : 'No alerts.')
          return 0
        },
        { remote: true },
      ),
    )

  program
    .command('monitor')
    .description(
      'run the monitor on its own until stopped (it also runs inside `tokumei serve` with workers); --once: one pass',
    )
    .option('--once', 'judge the events since the last pass, post pending alerts, and exit (for cron)')
    .action(
      define(async ({ withRuntime, out, onShutdown }, options) => {
        return withRuntime(async (runtime) => {
          const context = monitorContext(runtime)
          const report = (hit: { rule: string; subject: string; message: string }) =>
            out.progress(`[${hit.rule}] ${hit.message} — ${hit.subject} blocked`)
          if (options.once) {
            const hits = await runMonitorOnce(context)
            for (const hit of hits) report(hit)
            const delivered = await deliverAlerts(context)
            out.result(
              { hits, delivered },
              `${hits.length} new alert(s); ${delivered} posted to the webhook.`,
            )
            return 0
          }
          const monitor = startMonitor(context, {
            listen: (channel, onNotify) => runtime.db.listen(channel, onNotify),
            onHit: report,
            onError: (error) =>
              out.warn(`monitor pass failed: ${error instanceof Error ? error.message : error}`),
          })
          out.progress('The monitor watches the audit log. Stop with Ctrl-C.')
          await new Promise<void>((resolve) => onShutdown(resolve))
          await monitor.stop()
          out.result({ stopped: true }, 'Monitor stopped.')
          return 0
        })
      }),
    )

  program
    .command('unblock <block-id>')
    .description("ask for a block's lift; another person approves it with `tokumei approve`")
    .action(
      define(
        async ({ withRuntime, out, remote }, _options, id) => {
          const blockId = idArgument(id, 'block')
          const api = remote()
          const request = api
            ? (await api.call<{ approval: ApprovalView }>('POST', `/api/portal/v1/blocks/${blockId}/lift`))
                .approval
            : await withRuntime((runtime) =>
                requestLift(
                  { db: runtime.db.kysely, keyring: runtime.keyring, actor: runtime.actor },
                  blockId,
                ),
              )
          out.result(
            request,
            `Request ${request.id} to lift block ${blockId} recorded; another person approves it with \`tokumei approve ${request.id}\` before ${request.expiresAt}.`,
          )
          return 0
        },
        { remote: true },
      ),
    )

  const approvals = program.command('approvals').description('two-person requests: list and withdraw')
  approvals
    .command('list')
    .description('open requests (all, with --all), newest first')
    .option('--all', 'also approved, done, cancelled and expired ones')
    .action(
      define(
        async ({ withRuntime, out, remote }, options) => {
          const all = Boolean(options.all)
          const api = remote()
          const list = api
            ? (await api.call<{ approvals: ApprovalView[] }>('GET', `/api/portal/v1/approvals?all=${all}`))
                .approvals
            : await withRuntime((runtime) => listApprovals(runtime.db.kysely, { all }))
          out.result(list, list.length > 0 ? list.map(approvalLine) : 'No open requests.')
          return 0
        },
        { remote: true },
      ),
    )
  approvals
    .command('cancel <id>')
    .description('withdraw an open request')
    .action(
      define(
        async ({ withRuntime, out, remote }, _options, id) => {
          const requestId = idArgument(id, 'request')
          const api = remote()
          const request = api
            ? (
                await api.call<{ approval: ApprovalView }>(
                  'POST',
                  `/api/portal/v1/approvals/${requestId}/cancel`,
                )
              ).approval
            : await withRuntime(async (runtime) => {
                await cancelApproval(
                  { db: runtime.db.kysely, keyring: runtime.keyring, actor: runtime.actor },
                  requestId,
                )
                return findApproval(runtime.db.kysely, requestId)
              })
          out.result(request, `Request ${requestId} withdrawn.`)
          return 0
        },
        { remote: true },
      ),
    )

  program
    .command('approve <id>')
    .description(
      "approve another person's request with your own account: on the core host --user and password + code; through --server, your session + code",
    )
    .option('--user <name>', 'your agency account (core host)')
    .option('--password-file <file>', 'read your password from FILE (- for standard input; core host)')
    .option('--code <code>', 'the current code of your authenticator app')
    .action(
      define(
        async ({ withRuntime, out, remote, io }, options, id) => {
          const requestId = idArgument(id, 'request')
          const prompt = (text: string) => io.stderr.write(text)
          const api = remote()
          if (api) {
            const code = await readCode(options.code, prompt)
            const { approval } = await api.call<{ approval: ApprovalView }>(
              'POST',
              `/api/portal/v1/approvals/${requestId}/approve`,
              { code },
            )
            out.result(approval, doneLine(approval))
            return 0
          }
          if (typeof options.user !== 'string')
            throw new TokumeiError(
              'On the core host, name your agency account with --user NAME (and give --password-file and --code in scripts).',
              { code: 'auth.no_user', kind: 'invalid' },
            )
          const password = await readPassword(options.passwordFile as string | undefined, prompt)
          const code = await readCode(options.code, prompt)
          // The owner's connection: reading accounts and, for a key rotation, rewriting the keyring.
          const approval = await withRuntime(async (runtime) => {
            const request = await findApproval(runtime.db.kysely, requestId)
            const approver = await verifyPerson(authContext(runtime), {
              username: String(options.user),
              password,
              code,
              source: runtime.actor,
            })
            return approveRequest(
              { db: runtime.db.kysely, keyring: runtime.keyring, actor: runtime.actor },
              {
                id: requestId,
                approver,
                inTransaction: request.kind === 'block.lift',
                execute: (approved, db) =>
                  approved.kind === 'block.lift'
                    ? liftBlock(db, runtime.keyring, approved)
                    : rotateKeys(runtime, approved),
              },
            )
          }, 'owner')
          out.result(approval, doneLine(approval))
          return 0
        },
        { remote: true },
      ),
    )
}

function doneLine(approval: ApprovalView): string[] {
  const lines = [`Request ${approval.id} approved by ${approval.approvedBy}: ${approval.description} — done.`]
  const keyFile = approval.result?.keyFile
  if (approval.kind === 'keys.rotate' && typeof keyFile === 'string')
    lines.push(`The new master key is in ${keyFile}. Backups taken before now still need the previous key.`)
  return lines
}

async function rotateKeys(runtime: Runtime, approved: ApprovalView): Promise<Record<string, unknown>> {
  const report = await rotateMasterKey(runtime.db, runtime.master, runtime.keyring, {
    actor: approved.approvedBy ?? runtime.actor,
    dataKeys: approved.params.dataKeys === true,
    newKeyFile: typeof approved.params.newKeyFile === 'string' ? approved.params.newKeyFile : undefined,
  })
  return { ...report }
}
