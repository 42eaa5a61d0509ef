import {
  type DependencyList,
  type InputHTMLAttributes,
  type ReactNode,
  useCallback,
  useEffect,
  useId,
  useRef,
  useState,
} from 'react'
import { useTranslation } from 'react-i18next'
import { ApiError } from './api'
import { useSession } from './session'

/** Whether a screen has been shown yet: the first one leaves the focus where the browser put it. */
let shown = false

/**
 * The screen's one heading: sets the document title and, when the user moves to another screen,
 * takes the focus, so that a screen reader starts there. On the first screen the focus stays at the
 * document's start, where the first Tab reaches the skip button.
 */
export function PageTitle({ children }: { children: string }) {
  const ref = useRef<HTMLHeadingElement>(null)
  useEffect(() => {
    document.title = `${children} — tokumei`
    if (shown) ref.current?.focus()
    shown = true
  }, [children])
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  )
}

/** An API answer that loads with the page; `reload()` asks again. A 401 ends the session. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: DependencyList) {
  const { ended } = useSession()
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true })
  const [round, setRound] = useState(0)
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller's deps decide when to load again.
  useEffect(() => {
    const controller = new AbortController()
    setState((s) => ({ ...s, loading: true }))
    load(controller.signal)
      .then((data) => setState({ data, loading: false }))
      .catch((error) => {
        if ((error as Error).name === 'AbortError') return
        if (error instanceof ApiError && error.status === 401 && error.code === 'auth.session') ended()
        setState({ error, loading: false })
      })
    return () => controller.abort()
  }, [...deps, round])
  const reload = useCallback(() => setRound((r) => r + 1), [])
  return { ...state, reload }
}

/** Calls `tick` every `ms` while the page is open and visible (live figures). */
export function useEvery(ms: number, tick: () => void) {
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') tick()
    }, ms)
    return () => clearInterval(timer)
  }, [ms, tick])
}

/** Runs an action from a button or a form, with its error and a busy flag. */
export function useAction<A extends unknown[], T>(action: (...args: A) => Promise<T>) {
  const { ended } = useSession()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()
  const run = useCallback(
    async (...args: A): Promise<T | undefined> => {
      setBusy(true)
      setError(undefined)
      try {
        return await action(...args)
      } catch (e) {
        if (e instanceof ApiError && e.status === 401 && e.code === 'auth.session') ended()
        setError(e)
        return undefined
      } finally {
        setBusy(false)
      }
    },
    [action, ended],
  )
  return { run, busy, error, setError }
}

export function ErrorMessage({ error }: { error: unknown }) {
  const { t } = useTranslation()
  if (!error) return null
  const api = error instanceof ApiError ? error : undefined
  const known = api && t(`errors.${api.code}`, { defaultValue: '' })
  return (
    <div className="error" role="alert">
      <strong>{t('common.error')}</strong> {known || (error as Error).message}
      {api?.requestId ? (
        <span className="muted"> ({t('common.requestId', { id: api.requestId })})</span>
      ) : null}
    </div>
  )
}

export function Loading({ when }: { when: boolean }) {
  const { t } = useTranslation()
  return when ? (
    <p className="muted" role="status">
      {t('common.loading')}
    </p>
  ) : null
}

/** A polite live region: what an action did, read out by screen readers. */
export function Notice({ children }: { children: ReactNode }) {
  return (
    <div className="notice" role="status">
      {children}
    </div>
  )
}

export function Field({
  label,
  hint,
  children,
}: {
  label: string
  hint?: string
  children: (props: { id: string; 'aria-describedby'?: string }) => ReactNode
}) {
  const id = useId()
  const hintId = `${id}-hint`
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, ...(hint ? { 'aria-describedby': hintId } : {}) })}
      {hint ? (
        <small id={hintId} className="muted">
          {hint}
        </small>
      ) : null}
    </div>
  )
}

/** A labelled text input. */
export function TextField({
  label,
  hint,
  ...input
}: { label: string; hint?: string } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <Field label={label} hint={hint}>
      {(props) => <input {...props} {...input} />}
    </Field>
  )
}

/** The six digits of the authenticator app (a fresh code for each approval). */
export function CodeField({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  const { t } = useTranslation()
  return (
    <TextField
      label={t('login.code')}
      hint={t('login.codeHint')}
      value={value}
      onChange={(e) => onChange(e.target.value.replace(/\D/g, '').slice(0, 6))}
      inputMode="numeric"
      autoComplete="one-time-code"
      pattern="[0-9]{6}"
      required
    />
  )
}

export function useFormat() {
  const { i18n } = useTranslation()
  const locale = i18n.language === 'en' ? 'en-GB' : 'ja-JP'
  return {
    number: (n: number | null | undefined) =>
      n === null || n === undefined ? '—' : n.toLocaleString(locale),
    dateTime: (iso: string | Date | null | undefined) =>
      iso ? new Date(iso).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' }) : '—',
    percent: (share: number) => `${(share * 100).toFixed(2)} %`,
  }
}

/**
 * A bar chart in SVG with its numbers as a table beside it (the table is what a screen reader reads;
 * the picture is hidden from it). Bars are drawn to the largest value.
 */
export function BarChart({
  title,
  data,
  unit,
}: {
  title: string
  data: ReadonlyArray<{ label: string; value: number }>
  unit: string
}) {
  const fmt = useFormat()
  const { t } = useTranslation()
  const max = Math.max(1, ...data.map((d) => d.value))
  const width = 560
  const barHeight = 16
  const gap = 4
  const labelWidth = 70
  const height = data.length * (barHeight + gap) + gap
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {data.length === 0 ? (
        <p className="muted">{t('common.none')}</p>
      ) : (
        <>
          <svg
            viewBox={`0 0 ${width} ${height}`}
            width="100%"
            style={{ maxWidth: width }}
            aria-hidden="true"
            focusable="false"
          >
            {data.map((d, i) => {
              const y = gap + i * (barHeight + gap)
              const w = ((width - labelWidth - 80) * d.value) / max
              return (
                <g key={d.label}>
                  <text x={0} y={y + barHeight - 4} fontSize="12" fill="currentColor">
                    {d.label}
                  </text>
                  <rect x={labelWidth} y={y} width={Math.max(1, w)} height={barHeight} className="bar" />
                  <text x={labelWidth + w + 6} y={y + barHeight - 4} fontSize="12" fill="currentColor">
                    {fmt.number(d.value)}
                  </text>
                </g>
              )
            })}
          </svg>
          <details>
            <summary>{t('common.showTable')}</summary>
            <table>
              <caption className="sr-only">{title}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('common.label')}</th>
                  <th scope="col">{unit}</th>
                </tr>
              </thead>
              <tbody>
                {data.map((d) => (
                  <tr key={d.label}>
                    <th scope="row">{d.label}</th>
                    <td className="num">{fmt.number(d.value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </figure>
  )
}

export function Badge({ tone, children }: { tone: 'ok' | 'warn' | 'bad' | 'info'; children: ReactNode }) {
  return <span className={`badge ${tone}`}>{children}</span>
}

/** A job's progress: a native progress bar with its numbers in words. */
export function JobProgress({
  status,
  progress,
}: {
  status: string
  progress?: { done: number; total: number; unit: string } | null
}) {
  const { t } = useTranslation()
  const label = t(`jobs.status.${status}`, { defaultValue: status })
  return (
    <div className="progress">
      <span>{label}</span>
      {progress ? (
        <>
          <progress max={progress.total} value={progress.done} aria-label={t('jobs.progress')} />
          <span>
            {progress.done} / {progress.total} {progress.unit}
          </span>
        </>
      ) : status === 'queued' || status === 'running' ? (
        <progress aria-label={t('jobs.progress')} />
      ) : null}
    </div>
  )
}

/** A table's column headings. */
export function Head({ columns }: { columns: readonly ReactNode[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c, i) => (
          // Headings do not move: their place is their key.
          // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list.
          <th key={i} scope="col">
            {c}
          </th>
        ))}
      </tr>
    </thead>
  )
}
