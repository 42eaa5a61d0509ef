import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { type ErrorKind, TokumeiError } from '../model/index.js'

/**
 * The command line through the API (`--server URL`): `tokumei login` signs in with password and TOTP
 * code and keeps the session (its cookie and CSRF token) in a file only its owner can read; later
 * commands with the same `--server` use it until it ends. Nothing else about the server is kept.
 */
export interface StoredSession {
  readonly token: string
  readonly csrf: string
  readonly username: string
  readonly expiresAt: string
}

type Env = Readonly<Record<string, string | undefined>>

/** `TOKUMEI_SESSION_FILE`, or `~/.config/tokumei/sessions.json`. */
export function sessionFile(env: Env): string {
  if (env.TOKUMEI_SESSION_FILE) return env.TOKUMEI_SESSION_FILE
  const home = env.HOME ?? env.USERPROFILE ?? '.'
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'tokumei', 'sessions.json')
}

/** The server's origin (scheme, host, port): the key its session is kept under. */
export function serverOrigin(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TokumeiError(`--server ${url} is not a URL: write e.g. https://portal.example.jp.`, {
      code: 'remote.bad_url',
      kind: 'invalid',
    })
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new TokumeiError(`--server ${url} is not an http(s) URL.`, {
      code: 'remote.bad_url',
      kind: 'invalid',
    })
  return parsed.origin
}

function readSessions(file: string): Record<string, StoredSession> {
  if (!existsSync(file)) return {}
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, StoredSession>
  } catch {
    return {}
  }
}

function writeSessions(file: string, sessions: Record<string, StoredSession>): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, `${JSON.stringify(sessions, null, 2)}\n`, { mode: 0o600 })
  chmodSync(temporary, 0o600)
  renameSync(temporary, file)
}

export function saveSession(env: Env, origin: string, session: StoredSession): void {
  const file = sessionFile(env)
  writeSessions(file, { ...readSessions(file), [origin]: session })
}

export function forgetSession(env: Env, origin: string): void {
  const file = sessionFile(env)
  const sessions = readSessions(file)
  if (!(origin in sessions)) return
  delete sessions[origin]
  writeSessions(file, sessions)
}

const KINDS_BY_STATUS: Readonly<Record<number, ErrorKind>> = {
  400: 'invalid',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'invalid',
  429: 'unavailable',
}

/** A client of one server's API, with the stored session when there is one. */
export class RemoteClient {
  readonly origin: string
  readonly #env: Env
  readonly #fetch: typeof fetch

  constructor(url: string, env: Env, fetcher: typeof fetch = fetch) {
    this.origin = serverOrigin(url)
    this.#env = env
    this.#fetch = fetcher
  }

  session(): StoredSession | undefined {
    const stored = readSessions(sessionFile(this.#env))[this.origin]
    return stored && new Date(stored.expiresAt) > new Date() ? stored : undefined
  }

  /** Calls the API; an error answer becomes the server's own TokumeiError (code and message). */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const session = this.session()
    if (!session)
      throw new TokumeiError(
        `Not signed in to ${this.origin}: run \`tokumei login --server ${this.origin}\` first.`,
        {
          code: 'auth.session',
          kind: 'unauthenticated',
        },
      )
    return (await this.#request<T>(method, path, body, session)).data
  }

  /** Signs in and keeps the session: the token from the Set-Cookie header, the CSRF token from the body. */
  async login(username: string, password: string, code: string): Promise<StoredSession> {
    const { data, response } = await this.#request<{
      account: { username: string; expiresAt: string }
      csrf: string
    }>('POST', '/api/auth/v1/login', { username, password, code })
    const cookie = response.headers
      .getSetCookie()
      .map((c) => /^tokumei_session=([^;]+)/.exec(c)?.[1])
      .find((v) => v !== undefined)
    if (!cookie)
      throw new TokumeiError(`${this.origin} signed in but sent no session cookie.`, {
        code: 'remote.no_cookie',
        kind: 'unavailable',
      })
    const stored = {
      token: cookie,
      csrf: data.csrf,
      username: data.account.username,
      expiresAt: data.account.expiresAt,
    }
    saveSession(this.#env, this.origin, stored)
    return stored
  }

  async #request<T>(
    method: string,
    path: string,
    body: unknown,
    session?: StoredSession,
  ): Promise<{ data: T; response: Response }> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (session) {
      headers.cookie = `tokumei_session=${session.token}`
      headers['x-csrf-token'] = session.csrf
    }
    if (body !== undefined) headers['content-type'] = 'application/json'
    let response: Response
    try {
      response = await this.#fetch(`${this.origin}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      })
    } catch (error) {
      throw new TokumeiError(
        `Cannot reach ${this.origin} (${error instanceof Error ? error.message : String(error)}): check --server and the network.`,
        { code: 'remote.unavailable', kind: 'unavailable' },
      )
    }
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = text === '' ? {} : JSON.parse(text)
    } catch {
      parsed = undefined
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error
      // A session the server no longer knows is forgotten here too.
      if (response.status === 401 && session) forgetSession(this.#env, this.origin)
      throw new TokumeiError(error?.message ?? `${this.origin} answered HTTP ${response.status}.`, {
        code: error?.code ?? 'remote.failed',
        kind: KINDS_BY_STATUS[response.status] ?? 'unavailable',
      })
    }
    if (parsed === undefined)
      throw new TokumeiError(
        `${this.origin} answered with something other than JSON: is it a tokumei server?`,
        {
          code: 'remote.not_tokumei',
          kind: 'unavailable',
        },
      )
    return { data: parsed as T, response }
  }
}
