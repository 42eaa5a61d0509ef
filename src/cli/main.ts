import { Command, CommanderError } from 'commander'
import { type Config, loadConfig, type Zone } from '../config/index.js'
import { fromDatabaseError } from '../db/index.js'
import { TokumeiError } from '../model/index.js'
import { openRuntime, type Runtime } from '../runtime/index.js'
import { blockedSubjects } from '../security/index.js'
import { TOKUMEI_VERSION } from '../version.js'
import { registerAccountCommands } from './commands/account.js'
import { registerAnonymizeCommands } from './commands/anonymize.js'
import { registerAuditCommands } from './commands/audit.js'
import { registerConfigCommands } from './commands/config.js'
import { registerDicomCommands } from './commands/dicom.js'
import { registerInitCommands } from './commands/init.js'
import { registerInstitutionCommands } from './commands/institution.js'
import { registerJobCommands } from './commands/jobs.js'
import { registerKeyCommands } from './commands/keys.js'
import { registerLinkCommands } from './commands/link.js'
import { registerMonitorCommands } from './commands/monitor.js'
import { registerOptOutCommands } from './commands/optout.js'
import { registerScheduleCommands } from './commands/schedule.js'
import { registerServeCommand } from './commands/serve.js'
import { registerSessionCommands } from './commands/session.js'
import { registerSubmitCommands } from './commands/submit.js'
import { registerSynthCommand } from './commands/synth.js'
import { type CliIo, Output, processIo } from './io.js'
import { RemoteClient } from './remote.js'

/** What every command action receives: its output channel, the configuration, and the outside world. */
export interface CommandContext {
  readonly io: CliIo
  readonly out: Output
  config(): Config
  /** Set by long-running commands (serve, process, tail --follow) to end on SIGTERM/SIGINT. */
  onShutdown(stop: () => void): void
  /**
   * Opens the runtime as the given zone's role (default core; `owner` uses DATABASE_URL itself), runs
   * `fn`, and closes it whatever happens.
   */
  withRuntime<T>(fn: (runtime: Runtime) => Promise<T>, zone?: Zone | 'owner'): Promise<T>
  /** The API client when the command runs through a server (`--server URL` or TOKUMEI_SERVER). */
  remote(): RemoteClient | undefined
}

export type CommandAction = (
  context: CommandContext,
  options: Record<string, unknown>,
  ...args: string[]
) => Promise<number | undefined>

/**
 * Wraps an action: builds its context from the global options and turns errors into exit codes.
 * `remote`: the command can also run through the API (`--server`); others refuse it.
 */
export type Define = (
  action: CommandAction,
  options?: { remote?: boolean },
) => (...args: unknown[]) => Promise<void>

const JSON_HELP = 'print the result as JSON'

/** Runs one command line and returns the exit code (0 ok, 1 failed check, 2 bad usage or input). */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exitCode = 0
  const program = new Command('tokumei')
  program
    .description(
      'The software of a certified medical-data agency (次世代医療基盤法): intake, linkage, anonymization, governed release.',
    )
    .version(TOKUMEI_VERSION, '-V, --version')
    .option('--json', JSON_HELP)
    .option('-c, --config <file>', 'read settings from this YAML file (default ./tokumei.yaml)')
    .option(
      '--server <url>',
      "run through this server's API with the session of `tokumei login` (default TOKUMEI_SERVER); without it, commands act on the core host directly",
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(`tokumei: ${text.replace(/^error: /, '')}`),
    })

  const define: Define =
    (action, defineOptions = {}) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command
      const options = command.optsWithGlobals() as Record<string, unknown>
      const positional = args.slice(0, -2).filter((a): a is string => typeof a === 'string')
      const out = new Output(io, Boolean(options.json))
      let config: Config | undefined
      const context: CommandContext = {
        io,
        out,
        config: () => {
          config ??= loadConfig({ env: io.env, cwd: io.cwd, file: options.config as string | undefined })
          return config
        },
        onShutdown: (stop) => {
          const handler = () => stop()
          process.once('SIGTERM', handler)
          process.once('SIGINT', handler)
        },
        remote: () => {
          const server = (options.server as string | undefined) ?? io.env.TOKUMEI_SERVER
          return server ? new RemoteClient(server, io.env) : undefined
        },
        withRuntime: async (fn, zone = 'core') => {
          const runtime = await openRuntime(context.config(), { zone: zone === 'owner' ? undefined : zone })
          try {
            await refuseBlockedOperator(runtime)
            return await fn(runtime)
          } finally {
            await runtime.close()
          }
        },
      }
      try {
        if (options.server !== undefined && !defineOptions.remote)
          throw new TokumeiError(
            `\`tokumei ${commandPath(command)}\` runs on the core host only; through --server: ${REMOTE_COMMANDS}.`,
            { code: 'remote.unsupported', kind: 'invalid' },
          )
        exitCode = (await action(context, options, ...positional)) ?? 0
      } catch (error) {
        exitCode = out.error(fromDatabaseError(error))
      }
    }

  registerInitCommands(program, define)
  registerServeCommand(program, define)
  registerJobCommands(program, define)
  registerKeyCommands(program, define)
  registerAuditCommands(program, define)
  registerConfigCommands(program, define)
  registerSynthCommand(program, define)
  registerInstitutionCommands(program, define)
  registerSubmitCommands(program, define)
  registerOptOutCommands(program, define)
  registerLinkCommands(program, define)
  registerAnonymizeCommands(program, define)
  registerDicomCommands(program, define)
  registerAccountCommands(program, define)
  registerMonitorCommands(program, define)
  registerScheduleCommands(program, define)
  registerSessionCommands(program, define)
  for (const command of program.commands) inheritSettings(command, io)

  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return 0
      // A command group called without a subcommand prints its help: that is usage, not success.
      return 2
    }
    return new Output(io, argv.includes('--json')).error(error)
  }
  return exitCode
}

const REMOTE_COMMANDS = 'login, logout, alerts, unblock, approvals, approve'

function commandPath(command: Command): string {
  const names: string[] = []
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

/** A core-host operator the monitor blocked runs no command until two other people lift the block. */
async function refuseBlockedOperator(runtime: Runtime): Promise<void> {
  if (!runtime.actor.startsWith('os:')) return
  const blocked = await blockedSubjects(runtime.db.kysely, [runtime.actor])
  if (blocked.size > 0)
    throw new TokumeiError(
      `${runtime.actor} is blocked by the monitor: two other people must lift the block (\`tokumei alerts\`, \`tokumei unblock\`).`,
      { code: 'auth.blocked', kind: 'forbidden' },
    )
}

function inheritSettings(command: Command, io: CliIo): void {
  command.exitOverride().configureOutput({
    writeOut: (text) => io.stdout.write(text),
    writeErr: (text) => io.stderr.write(text),
    outputError: (text, write) => write(`tokumei: ${text.replace(/^error: /, '')}`),
  })
  command.showHelpAfterError('(run with --help for usage)')
  if (!command.options.some((o) => o.long === '--json') && command.commands.length === 0) {
    command.option('--json', JSON_HELP)
  }
  for (const sub of command.commands) inheritSettings(sub, io)
}
