import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { main } from '../../src/cli/main.js'

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a tokumei command in this process, with its own environment and working directory. */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd: string },
): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await main(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: { ...options.env },
    cwd: options.cwd,
  })
  return { code, stdout, stderr }
}

// The real command, as `npx tokumei` runs it; the global setup has just compiled dist/ from the sources.
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tokumei.js')

/** Starts the `tokumei` command as its own process. */
export function spawnCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd: string },
): ChildProcess {
  // A clean environment: nothing of the developer's TOKUMEI_* or DATABASE_URL leaks in.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('TOKUMEI_') && k !== 'DATABASE_URL'),
  )
  return spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...base, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Runs the `tokumei` command as its own process to the end. */
export function execCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd: string },
): Promise<CliRun> {
  const child = spawnCli(args, options)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d) => (stdout += d))
  child.stderr?.on('data', (d) => (stderr += d))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

/** Resolves with the first match of `pattern` in a child's stdout. */
export function waitForOutput(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = ''
    let errors = ''
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${timeoutMs} ms; stdout: ${seen}; stderr: ${errors}`)),
      timeoutMs,
    )
    child.stderr?.on('data', (d) => (errors += d))
    child.stdout?.on('data', (d) => {
      seen += d
      const match = seen.match(pattern)
      if (match) {
        clearTimeout(timer)
        resolve(match)
      }
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      reject(new Error(`exited (${code}) before ${pattern}; stdout: ${seen}; stderr: ${errors}`))
    })
  })
}
