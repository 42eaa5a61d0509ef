import type { Command } from 'commander'
import { authContext } from '../../runtime/index.js'
import {
  AGENCY_ROLES,
  createAccount,
  disableAccount,
  listAccounts,
  resetAccount,
  setUpAccount,
} from '../../security/index.js'
import type { Define } from '../main.js'
import { readNewPassword } from '../secrets.js'

export function registerAccountCommands(program: Command, define: Define): void {
  const account = program.command('account').description("the agency's staff accounts (password + TOTP)")
  account
    .command('add <username>')
    .description('create an account; prints the one-time code its owner sets it up with')
    .requiredOption('--roles <list>', `comma-separated: ${AGENCY_ROLES.join(', ')}`)
    .action(
      define(async ({ withRuntime, out }, options, username) => {
        return withRuntime(async (runtime) => {
          const created = await createAccount(authContext(runtime), {
            username: String(username),
            roles: String(options.roles).split(','),
            actor: runtime.actor,
          })
          out.result({ ...created.account, code: created.code, expiresAt: created.expiresAt }, [
            `Account ${created.account.username} (${created.account.roles.join(', ')}) created.`,
            `One-time code (give it to its owner by hand; shown once, valid until ${created.expiresAt.toISOString()}):`,
            `  ${created.code}`,
            `The owner runs: tokumei account setup ${created.account.username} --code <code>`,
          ])
          return 0
        }, 'portal')
      }),
    )
  account
    .command('list')
    .description('accounts with their roles and state (never a secret)')
    .action(
      define(async ({ withRuntime, out }) => {
        return withRuntime(async (runtime) => {
          const accounts = await listAccounts(authContext(runtime))
          out.result(
            accounts,
            accounts.map(
              (a) =>
                `${a.username.padEnd(24)} ${a.roles.join(',').padEnd(32)} ${[
                  a.disabled ? 'disabled' : a.locked ? 'locked' : 'active',
                  a.secondFactor ? 'TOTP' : a.setUp ? 'TOTP from first sign-in' : 'waiting for setup',
                ].join(', ')}`,
            ),
          )
          return 0
        }, 'portal')
      }),
    )
  account
    .command('reset <username>')
    .description('new one-time code: password, second factor and sessions stop working at once')
    .action(
      define(async ({ withRuntime, out }, _options, username) => {
        return withRuntime(async (runtime) => {
          const reset = await resetAccount(authContext(runtime), {
            username: String(username),
            actor: runtime.actor,
          })
          out.result(reset, [
            `Account ${username} reset; its sessions have ended.`,
            `One-time code (shown once, valid until ${reset.expiresAt.toISOString()}):`,
            `  ${reset.code}`,
          ])
          return 0
        }, 'portal')
      }),
    )
  account
    .command('disable <username>')
    .description('stop an account for good; its sessions end at once')
    .action(
      define(async ({ withRuntime, out }, _options, username) => {
        return withRuntime(async (runtime) => {
          await disableAccount(authContext(runtime), { username: String(username), actor: runtime.actor })
          out.result({ username, disabled: true }, `Account ${username} disabled; its sessions have ended.`)
          return 0
        }, 'portal')
      }),
    )
  account
    .command('setup <username>')
    .description("the owner's step: set the password with the one-time code, and get the TOTP secret")
    .requiredOption('--code <code>', 'the one-time code from `account add` or `account reset`')
    .option('--password-file <file>', 'read the new password from FILE (- for standard input)')
    .action(
      define(async ({ withRuntime, out, io }, options, username) => {
        const password = await readNewPassword(options.passwordFile as string | undefined, (t) =>
          io.stderr.write(t),
        )
        return withRuntime(async (runtime) => {
          const { secret, uri } = await setUpAccount(authContext(runtime), {
            username: String(username),
            code: String(options.code),
            password,
          })
          out.result({ username, secret, uri }, [
            `Password set for ${username}. Add this second factor to an authenticator app (shown once):`,
            `  secret ${secret}`,
            `  ${uri}`,
            'The second factor is active from the first sign-in with one of its codes.',
          ])
          return 0
        }, 'portal')
      }),
    )
}
