/**
 * The console's one way to the API: same origin, the session cookie (HttpOnly, set by sign-in) and, on
 * every state-changing request, the CSRF token that sign-in returned. The token lives in this tab's
 * sessionStorage only, so a reload keeps the session and closing the tab forgets it.
 */
const CSRF_KEY = 'tokumei.csrf'

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly requestId?: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export function setCsrf(token: string | null): void {
  if (token) sessionStorage.setItem(CSRF_KEY, token)
  else sessionStorage.removeItem(CSRF_KEY)
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

export async function api<T>(
  method: Method,
  path: string,
  body?: unknown,
  init: RequestInit = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const csrf = sessionStorage.getItem(CSRF_KEY)
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers: { ...headers, ...(init.headers as Record<string, string> | undefined) },
      body: body === undefined ? undefined : JSON.stringify(body),
      // An institution's page sends its API key and no session: `credentials: 'omit'`.
      credentials: init.credentials ?? 'same-origin',
      signal: init.signal,
    })
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error
    throw new ApiError('The server cannot be reached.', 0, 'network')
  }
  const text = await response.text()
  let data: unknown
  try {
    data = text ? JSON.parse(text) : undefined
  } catch {
    data = undefined
  }
  if (!response.ok) {
    const error = (data as { error?: { message?: string; code?: string; request_id?: string } } | undefined)
      ?.error
    throw new ApiError(
      error?.message ?? `The server answered ${response.status}.`,
      response.status,
      error?.code ?? 'http',
      error?.request_id,
    )
  }
  return data as T
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>('GET', path, undefined, { signal })
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {})

/** A query string from the set fields of an object. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const entries = Object.entries(params).filter(
    (e): e is [string, string | number] => e[1] !== undefined && e[1] !== null && e[1] !== '',
  )
  return entries.length === 0
    ? ''
    : `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString()}`
}
