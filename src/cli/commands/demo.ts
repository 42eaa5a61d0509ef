import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { TokumeiError } from '../../model/index.js'
import { DEMO_LOGIN_FILE } from '../../runtime/demo-login.js'
import type { Define } from '../main.js'
import { main } from '../main.js'

/**
 * `tokumei demo`: synthetic hospitals → intake → linkage → one package per use → statistics, on the
 * embedded database in its own directory, then serving the console (unless --no-serve).
 */
const count = (value: unknown, name: string, max: number): number => {
  const n = Number(value)
  if (!/^\d+$/.test(String(value)) || n < 1 || n > max)
    throw new TokumeiError(`${name} is a whole number from 1 to ${max}.`, {
      code: 'cli.bad_number',
      kind: 'invalid',
    })
  return n
}

export function registerDemoCommand(program: Command, define: Define): void {
  const demo = program
    .command('demo')
    .description(
      'the whole agency on synthetic data: hospitals → intake → linkage → releases → statistics → serve',
    )
    .option('--out <dir>', 'where the demo keeps everything (an earlier demo there is replaced)', './demo')
    .option('--persons <n>', 'persons across all hospitals', '10000')
    .option('--hospitals <n>', 'how many hospitals', '5')
    .option('--seed <seed>', 'the synthetic data seed', '1')
    .option('--no-serve', 'exit when done instead of serving the console')
    .option('--port <port>', 'port to serve on', '8080')
    .action(
      define(async ({ io, out }, options) => {
        const dir = resolve(io.cwd, String(options.out))
        const persons = count(options.persons, '--persons', 1_000_000)
        const hospitals = count(options.hospitals, '--hospitals', 100)
        const dataDir = resolve(dir, 'data')
        // The demo's own embedded database, whatever tokumei.yaml or DATABASE_URL say.
        const env: Record<string, string | undefined> = {
          ...io.env,
          TOKUMEI_DATA_DIR: dataDir,
          TOKUMEI_MASTER_KEY_FILE: resolve(dataDir, 'master.key'),
        }
        delete env.DATABASE_URL
        delete env.TOKUMEI_MASTER_KEY
        delete env.TOKUMEI_CONFIG
        const { loadConfig } = await import('../../config/index.js')
        const config = loadConfig({ env, cwd: dir, file: undefined })
        const { runDemo } = await import('../../runtime/demo.js')
        const { defaultSharedDataDir } = await import('../../synth/index.js')
        const started = performance.now()
        const report = await runDemo(config, {
          out: dir,
          persons,
          hospitals,
          seed: String(options.seed),
          sharedDataDir: defaultSharedDataDir(io.env),
          onProgress: (message) => out.progress(message),
        })
        const seconds = Math.round((performance.now() - started) / 100) / 10
        out.result(report, [
          `tokumei demo — done in ${seconds} s (${dir})`,
          ...report.stages.map(
            (s) => `  ${s.stage.padEnd(34)} ${String(s.seconds).padStart(7)} s  ${s.detail}`,
          ),
          'Packages, as their recipients have them after decryption:',
          ...report.releases.map(
            (r) =>
              `  use ${r.use.padEnd(32)} ${r.id}  ${r.persons} persons  ${r.verified ? 'verified' : 'NOT VERIFIED'}  ${r.dir}`,
          ),
          `Synthetic input with its ground truth: ${resolve(dir, 'synth')}`,
          `Demo login: ${report.login.username} / "${report.login.password}" with TOTP secret ${report.login.totpSecret}`,
        ])
        if (report.releases.some((r) => !r.verified)) return 1
        if (options.serve === false) return 0
        out.progress(
          [
            `Web console: http://localhost:${options.port}/ (Ctrl-C to stop)`,
            `  sign in as ${report.login.username} / "${report.login.password}"; the six-digit code: \`tokumei demo code${options.out === './demo' ? '' : ` --out ${options.out}`}\`, or an authenticator app with ${otpauth(report.login.username, report.login.totpSecret)}`,
          ].join('\n'),
        )
        return main(['serve', '--port', String(options.port)], { ...io, env, cwd: dir })
      }),
    )
  demo
    .command('code')
    .description("the demo administrator's current sign-in code (TOTP), for the web console")
    .option('--out <dir>', 'the demo directory', './demo')
    .action(
      define(async ({ io, out }, options) => {
        const dir = resolve(io.cwd, String(options.out))
        let login: { username: string; totpSecret: string }
        try {
          login = JSON.parse(readFileSync(join(dir, DEMO_LOGIN_FILE), 'utf8'))
        } catch {
          throw new TokumeiError(
            `${dir} holds no demo (${DEMO_LOGIN_FILE} is missing): run \`tokumei demo\` first.`,
            {
              code: 'demo.none',
              kind: 'invalid',
            },
          )
        }
        const { generateSync } = await import('otplib')
        const code = generateSync({ secret: login.totpSecret })
        const left = 30 - (Math.floor(Date.now() / 1000) % 30)
        out.result(
          { username: login.username, code, seconds: left },
          `${code}  (${login.username}, valid for ${left} s more)`,
        )
        return 0
      }),
    )
}

/** The demo administrator's sign-in for an authenticator app (RFC 6238 key URI). */
const otpauth = (username: string, secret: string) =>
  `otpauth://totp/tokumei:${encodeURIComponent(username)}?secret=${secret}&issuer=tokumei`
