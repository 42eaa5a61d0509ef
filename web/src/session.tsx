import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react'
import { ApiError, get, post, setCsrf } from './api'

/** Who is signed in: read from the server at start (the cookie is HttpOnly), set by sign-in. */
export interface Account {
  readonly username: string
  readonly roles: readonly string[]
  readonly expiresAt: string
}

interface SessionValue {
  /** undefined while the first answer is awaited; null when nobody is signed in. */
  readonly account: Account | null | undefined
  signIn(input: { username: string; password: string; code: string }): Promise<void>
  signOut(): Promise<void>
  /** After a 401 from any page: the session ended (expired, revoked, blocked). */
  ended(): void
  has(...roles: readonly string[]): boolean
}

const SessionContext = createContext<SessionValue | undefined>(undefined)

export function SessionProvider({ children }: { children: ReactNode }) {
  const [account, setAccount] = useState<Account | null | undefined>(undefined)

  useEffect(() => {
    get<{ account: Account }>('/api/auth/v1/session')
      .then((r) => setAccount(r.account))
      .catch(() => setAccount(null))
  }, [])

  const signIn = useCallback(async (input: { username: string; password: string; code: string }) => {
    const r = await post<{ account: Account; csrf: string }>('/api/auth/v1/login', input)
    setCsrf(r.csrf)
    setAccount(r.account)
  }, [])

  const signOut = useCallback(async () => {
    try {
      await post('/api/auth/v1/logout')
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error
    }
    setCsrf(null)
    setAccount(null)
  }, [])

  const ended = useCallback(() => {
    setCsrf(null)
    setAccount(null)
  }, [])

  const value = useMemo<SessionValue>(
    () => ({
      account,
      signIn,
      signOut,
      ended,
      has: (...roles) => !!account && account.roles.some((r) => roles.includes(r)),
    }),
    [account, signIn, signOut, ended],
  )
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext)
  if (!value) throw new Error('useSession outside SessionProvider')
  return value
}
