import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { TokumeiError } from '../model/index.js'

/**
 * Passwords and codes for commands: from a file or an option (scripts and CI), or typed at a terminal
 * without echo. Without a terminal and without the option, a command fails at once with what to pass
 * — it never waits for input that cannot come.
 */
type Prompt = (text: string) => void

function ask(question: string, prompt: Prompt, hidden: boolean): Promise<string> {
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() })
  return new Promise<string>((resolve) => {
    prompt(question)
    const rl = createInterface({
      input: process.stdin,
      output: hidden ? silent : process.stderr,
      terminal: true,
    })
    rl.question('', (answer) => {
      rl.close()
      if (hidden) prompt('\n')
      resolve(answer)
    })
  })
}

const fromFile = (file: string) => readFileSync(file === '-' ? 0 : file, 'utf8').replace(/\r?\n$/, '')

/** A new password: from `file` (`-`: standard input), or typed twice at a terminal. */
export async function readNewPassword(file: string | undefined, prompt: Prompt): Promise<string> {
  if (file !== undefined) return fromFile(file)
  if (!process.stdin.isTTY)
    throw new TokumeiError('Give the new password with --password-file FILE (or - for standard input).', {
      code: 'account.no_password',
      kind: 'invalid',
    })
  const first = await ask('New password: ', prompt, true)
  if ((await ask('Again: ', prompt, true)) !== first)
    throw new TokumeiError('The two passwords differ.', {
      code: 'account.password_mismatch',
      kind: 'invalid',
    })
  return first
}

/** A password to sign in with: from `file`, or typed once at a terminal. */
export async function readPassword(file: string | undefined, prompt: Prompt): Promise<string> {
  if (file !== undefined) return fromFile(file)
  if (!process.stdin.isTTY)
    throw new TokumeiError('Give the password with --password-file FILE (or - for standard input).', {
      code: 'auth.no_password',
      kind: 'invalid',
    })
  return ask('Password: ', prompt, true)
}

/** The TOTP code: `--code`, or typed at a terminal. */
export async function readCode(code: unknown, prompt: Prompt): Promise<string> {
  if (typeof code === 'string' && code.trim() !== '') return code.trim()
  if (!process.stdin.isTTY)
    throw new TokumeiError('Give the 6-digit code of your authenticator app with --code CODE.', {
      code: 'auth.no_code',
      kind: 'invalid',
    })
  return (await ask('Code from your authenticator app: ', prompt, false)).trim()
}
