import type { Command } from 'commander'
import { TokumeiError } from '../../model/index.js'
import type { Define } from '../main.js'
import { forgetSession } from '../remote.js'
import { readCode, readPassword } from '../secrets.js'

/**
 * `tokumei login` / `logout`: a session on a server for the commands run with `--server`. On the core
 * host no login is needed: a command acts as the operating-system account that runs it.
 */
export function registerSessionCommands(program: Command, define: Define): void {
  program
    .command('login')
    .description(
      'sign in to a server (--server URL) with password and TOTP code; later --server commands use the session',
    )
    .requiredOption('--user <name>', 'your agency account')
    .option('--password-file <file>', 'read the password from FILE (- for standard input)')
    .option('--code <code>', 'the current code of your authenticator app')
    .action(
      define(
        async ({ out, remote, io }, options) => {
          const api = remote()
          if (!api)
            throw new TokumeiError(
              'Name the server to sign in to with --server URL (or TOKUMEI_SERVER). On the core host, commands need no login.',
              { code: 'remote.no_server', kind: 'invalid' },
            )
          const prompt = (text: string) => io.stderr.write(text)
          const password = await readPassword(options.passwordFile as string | undefined, prompt)
          const code = await readCode(options.code, prompt)
          const session = await api.login(String(options.user), password, code)
          out.result(
            { server: api.origin, username: session.username, expiresAt: session.expiresAt },
            `Signed in to ${api.origin} as ${session.username} until ${session.expiresAt} (ends sooner when idle).`,
          )
          return 0
        },
        { remote: true },
      ),
    )
  program
    .command('logout')
    .description('end the session on the server (--server URL) and forget it here')
    .action(
      define(
        async ({ out, remote, io }) => {
          const api = remote()
          if (!api)
            throw new TokumeiError('Name the server with --server URL (or TOKUMEI_SERVER).', {
              code: 'remote.no_server',
              kind: 'invalid',
            })
          if (api.session()) await api.call('POST', '/api/auth/v1/logout').catch(() => undefined)
          forgetSession(io.env, api.origin)
          out.result({ server: api.origin, signedOut: true }, `Signed out of ${api.origin}.`)
          return 0
        },
        { remote: true },
      ),
    )
}
