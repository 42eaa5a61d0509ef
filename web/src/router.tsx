import { type AnchorHTMLAttributes, useEffect, useState } from 'react'

/**
 * Routing by the URL's fragment (`#/projects/P-2026-0001`): bookmarkable, the back button works,
 * and the server serves one page. Only the path part is used; `?a=b` after it is the route's query.
 */
export interface Route {
  readonly path: string
  readonly parts: readonly string[]
  readonly query: URLSearchParams
}

function current(): Route {
  const raw = decodeURIComponent(window.location.hash.replace(/^#/, '')) || '/'
  const [path = '/', search = ''] = raw.split('?')
  return { path, parts: path.split('/').filter(Boolean), query: new URLSearchParams(search) }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current)
  useEffect(() => {
    const onChange = () => setRoute(current())
    window.addEventListener('hashchange', onChange)
    return () => window.removeEventListener('hashchange', onChange)
  }, [])
  return route
}

export function navigate(path: string): void {
  window.location.hash = path
}

export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  return <a href={`#${to}`} {...rest} />
}
