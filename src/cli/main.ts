import { Command, CommanderError } from 'commander'
import type { Config, Zone } from '../config/index.js'
import { fromDatabaseError } from '../db/errors.js'
import { TokumeiError } from '../model/index.js'
import type { Runtime } from '../runtime/index.js'
import { TOKUMEI_VERSION } from '../version.js'
import { type CliIo, Output, processIo } from './io.js'
import { RemoteClient } from './remote.js'

/** What every command action receives: its output channel, the configuration, and the outside world. */
export interface CommandContext {
  readonly io: CliIo
  readonly out: Output
  /** The settings, read once (their module, with its schema library, loads only for a command that asks). */
  config(): Promise<Config>
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
        config: async () => {
          if (!config) {
            const { loadConfig } = await import('../config/index.js')
            config = loadConfig({ env: io.env, cwd: io.cwd, file: options.config as string | undefined })
          }
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
          const { openRuntime } = await import('../runtime/index.js')
          const runtime = await openRuntime(await context.config(), {
            zone: zone === 'owner' ? undefined : zone,
          })
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

  // Only the module of the command asked for is loaded (each pulls in its own part of tokumei: the
  // server, the database, the engine …); help and unknown commands load them all.
  const asked = commandAsked(argv)
  const versionOnly = asked === undefined && (argv.includes('-V') || argv.includes('--version'))
  const modules = versionOnly
    ? []
    : asked && asked in COMMAND_MODULES
      ? [COMMAND_MODULES[asked] as string]
      : [...new Set(Object.values(COMMAND_MODULES))]
  for (const name of modules) {
    const module = (await (COMMAND_LOADERS[name] as () => Promise<unknown>)()) as Record<string, unknown>
    for (const [exported, register] of Object.entries(module))
      if (exported.startsWith('register') && typeof register === 'function')
        (register as (program: Command, define: Define) => void)(program, define)
  }
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

/** The command word of a command line: its first argument that is not an option or an option's value. */
function commandAsked(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '-c' || arg === '--config' || arg === '--server') i++
    else if (!arg.startsWith('-')) return arg
  }
  return undefined
}

/** The command modules, each imported only when one of its commands runs (plain paths, for bundlers). */
const COMMAND_LOADERS: Readonly<Record<string, () => Promise<unknown>>> = {
  account: () => import('./commands/account.js'),
  anonymize: () => import('./commands/anonymize.js'),
  audit: () => import('./commands/audit.js'),
  config: () => import('./commands/config.js'),
  demo: () => import('./commands/demo.js'),
  dicom: () => import('./commands/dicom.js'),
  init: () => import('./commands/init.js'),
  institution: () => import('./commands/institution.js'),
  jobs: () => import('./commands/jobs.js'),
  keys: () => import('./commands/keys.js'),
  link: () => import('./commands/link.js'),
  monitor: () => import('./commands/monitor.js'),
  optout: () => import('./commands/optout.js'),
  project: () => import('./commands/project.js'),
  release: () => import('./commands/release.js'),
  schedule: () => import('./commands/schedule.js'),
  serve: () => import('./commands/serve.js'),
  session: () => import('./commands/session.js'),
  submit: () => import('./commands/submit.js'),
  synth: () => import('./commands/synth.js'),
  text: () => import('./commands/text.js'),
}

/** Each top-level command and the module under commands/ that registers it (a test keeps this true). */
export const COMMAND_MODULES: Readonly<Record<string, string>> = {
  init: 'init',
  migrate: 'init',
  demo: 'demo',
  serve: 'serve',
  process: 'jobs',
  jobs: 'jobs',
  keys: 'keys',
  audit: 'audit',
  config: 'config',
  synth: 'synth',
  institution: 'institution',
  submit: 'submit',
  submission: 'submit',
  quarantine: 'submit',
  optout: 'optout',
  link: 'link',
  anonymize: 'anonymize',
  risk: 'anonymize',
  dicom: 'dicom',
  text: 'text',
  account: 'account',
  alerts: 'monitor',
  monitor: 'monitor',
  unblock: 'monitor',
  approvals: 'monitor',
  approve: 'monitor',
  schedule: 'schedule',
  login: 'session',
  logout: 'session',
  project: 'project',
  review: 'project',
  contract: 'project',
  release: 'release',
  trace: 'release',
  stats: 'release',
  policy: 'release',
}

function commandPath(command: Command): string {
  const names: string[] = []
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

/** A core-host operator the monitor blocked runs no command until two other people lift the block. */
async function refuseBlockedOperator(runtime: Runtime): Promise<void> {
  if (!runtime.actor.startsWith('os:')) return
  const { blockedSubjects } = await import('../security/index.js')
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
