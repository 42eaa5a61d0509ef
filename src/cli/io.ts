import { isTokumeiError } from '../model/index.js'

/** The outside world of one command run; tests pass their own. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean }
  readonly stderr: { write(text: string): unknown; isTTY?: boolean }
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
}

export const processIo = (): CliIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
})

/**
 * How a command speaks: a result (human lines, or one JSON document with --json) on standard
 * output; progress and warnings on standard error, so that piped output stays clean.
 */
export class Output {
  readonly #io: CliIo
  readonly json: boolean

  constructor(io: CliIo, json: boolean) {
    this.#io = io
    this.json = json
  }

  /** The command's result: `data` as JSON with --json, otherwise the human lines. */
  result(data: unknown, human: string | readonly string[]): void {
    if (this.json) {
      this.#io.stdout.write(`${JSON.stringify(data, null, 2)}\n`)
    } else {
      const lines = typeof human === 'string' ? [human] : human
      if (lines.length > 0) this.#io.stdout.write(`${lines.join('\n')}\n`)
    }
  }

  /** One JSON document per line (--json) or one human line, for streams such as `audit tail`. */
  line(data: unknown, human: string): void {
    this.#io.stdout.write(this.json ? `${JSON.stringify(data)}\n` : `${human}\n`)
  }

  progress(message: string): void {
    if (!this.json || this.#io.stderr.isTTY) this.#io.stderr.write(`${message}\n`)
  }

  warn(message: string): void {
    this.#io.stderr.write(`warning: ${message}\n`)
  }

  /** Prints an error as one sentence (or a JSON error document) and returns the exit code. */
  error(error: unknown): number {
    if (isTokumeiError(error)) {
      if (this.json) this.#io.stdout.write(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`)
      this.#io.stderr.write(`tokumei: ${error.message}\n`)
      return error.exitCode
    }
    const name = error instanceof Error ? error.name : typeof error
    if (this.#io.env.TOKUMEI_DEBUG === '1' && error instanceof Error)
      this.#io.stderr.write(`${error.stack}\n`)
    this.#io.stderr.write(
      `tokumei: unexpected internal error (${name}); nothing more is shown because it may quote data — run with TOKUMEI_DEBUG=1 on a test system for the stack.\n`,
    )
    if (this.json)
      this.#io.stdout.write(`${JSON.stringify({ error: { code: 'internal', message: name } })}\n`)
    return 1
  }
}
