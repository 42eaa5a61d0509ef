import { type FormEvent, useEffect, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { get, post, query } from '../api'
import { useSession } from '../session'
import {
  Badge,
  CodeField,
  ErrorMessage,
  Field,
  Head,
  Loading,
  Notice,
  PageTitle,
  TextField,
  useAction,
  useEvery,
  useFormat,
  useLoad,
} from '../ui'

interface AuditEvent {
  seq: number
  at: string
  actor: string
  action: string
  target: string | null
  outcome: string
  detail: Record<string, unknown>
}
interface Alert {
  id: number
  at: string
  rule: string
  subject: string
  message: string
  block: { id: number; state: string } | null
}
interface Approval {
  id: number
  kind: string
  target: string
  requestedBy: string
  requestedAt: string
  state: string
  approvedBy?: string | null
}

/** 監査と警告: the audit log's search, the monitor's alerts and blocks, and two-person approvals. */
export function AuditPage() {
  const { t } = useTranslation()
  // Alerts and approvals change each other (a lift asked for, a block lifted): both reload on either.
  const [round, setRound] = useState(0)
  const changed = () => setRound((r) => r + 1)
  return (
    <>
      <PageTitle>{t('audit.title')}</PageTitle>
      <Alerts round={round} onChange={changed} />
      <BlockForm onChange={changed} />
      <Approvals round={round} onChange={changed} />
      <Search />
    </>
  )
}

function Alerts({ round, onChange }: { round: number; onChange: () => void }) {
  const { t } = useTranslation()
  const fmt = useFormat()
  const { data, error, loading, reload } = useLoad(
    (signal) => get<{ alerts: Alert[] }>('/api/portal/v1/alerts?limit=50', signal),
    [round],
  )
  useEvery(10_000, reload)
  const [asked, setAsked] = useState<string>()
  const lift = useAction(async (block: number) => {
    const r = await post<{ approval: Approval }>(`/api/portal/v1/blocks/${block}/lift`)
    setAsked(t('audit.liftAsked', { id: r.approval.id }))
    onChange()
  })
  return (
    <section aria-labelledby="alerts">
      <h2 id="alerts">{t('audit.alerts')}</h2>
      <Loading when={loading && !data} />
      <ErrorMessage error={error} />
      {asked ? <Notice>{asked}</Notice> : null}
      <ErrorMessage error={lift.error} />
      {data && data.alerts.length === 0 ? <p className="muted">{t('audit.noAlerts')}</p> : null}
      {data && data.alerts.length > 0 ? (
        <table>
          <Head
            columns={[
              '#',
              t('audit.at'),
              t('audit.rule'),
              t('audit.subject'),
              t('audit.message'),
              t('audit.block'),
            ]}
          />
          <tbody>
            {data.alerts.map((a) => (
              <tr key={a.id}>
                <td className="num">{a.id}</td>
                <td>{fmt.dateTime(a.at)}</td>
                <td className="code">{a.rule}</td>
                <td className="code">{a.subject}</td>
                <td>{a.message}</td>
                <td>
                  {a.block ? (
                    <>
                      <Badge tone={a.block.state === 'lifted' ? 'ok' : 'bad'}>
                        {t(`audit.blockStates.${a.block.state.replace(' ', '_')}`)}
                      </Badge>{' '}
                      {a.block.state === 'active' ? (
                        <button
                          type="button"
                          disabled={lift.busy}
                          onClick={() => void lift.run(a.block?.id as number)}
                        >
                          {t('audit.askLift')}
                        </button>
                      ) : null}
                    </>
                  ) : (
                    '—'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  )
}

/** An officer's block, at once: for what the monitor has no rule for. */
function BlockForm({ onChange }: { onChange: () => void }) {
  const { t } = useTranslation()
  const [subject, setSubject] = useState('')
  const [reason, setReason] = useState('')
  const [done, setDone] = useState<string>()
  const block = useAction(async () => {
    const r = await post<{ block: { id: number; subject: string } }>('/api/portal/v1/blocks', {
      subject,
      reason,
    })
    setDone(t('audit.blocked', { subject: r.block.subject, id: r.block.id }))
    setSubject('')
    setReason('')
    onChange()
  })
  const submit = (event: FormEvent) => {
    event.preventDefault()
    void block.run()
  }
  return (
    <section aria-labelledby="block-now">
      <h2 id="block-now">{t('audit.blockTitle')}</h2>
      {done ? <Notice>{done}</Notice> : null}
      <form onSubmit={submit} className="form wide">
        <div className="row">
          <TextField
            label={t('audit.blockSubject')}
            hint={t('audit.blockSubjectHint')}
            value={subject}
            onChange={(e) => setSubject(e.target.value)}
            required
          />
          <TextField
            label={t('audit.blockReason')}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            required
            maxLength={500}
          />
        </div>
        <ErrorMessage error={block.error} />
        <button type="submit" className="danger" disabled={block.busy}>
          {t('audit.blockNow')}
        </button>
      </form>
    </section>
  )
}

function Approvals({ round, onChange }: { round: number; onChange: () => void }) {
  const { t } = useTranslation()
  const fmt = useFormat()
  const session = useSession()
  const { data, error } = useLoad(
    (signal) => get<{ approvals: Approval[] }>('/api/portal/v1/approvals', signal),
    [round],
  )
  const [code, setCode] = useState('')
  const [chosen, setChosen] = useState<number>()
  const [done, setDone] = useState<string>()
  const approve = useAction(async () => {
    await post(`/api/portal/v1/approvals/${chosen}/approve`, { code })
    setDone(t('audit.approved', { id: chosen }))
    setCode('')
    setChosen(undefined)
    onChange()
  })
  const cancel = useAction(async (id: number) => {
    await post(`/api/portal/v1/approvals/${id}/cancel`)
    onChange()
  })
  const submit = (event: FormEvent) => {
    event.preventDefault()
    void approve.run()
  }
  const me = session.account?.username.toLowerCase()
  return (
    <section aria-labelledby="approvals">
      <h2 id="approvals">{t('audit.approvals')}</h2>
      <p className="muted">{t('audit.twoPeople')}</p>
      <ErrorMessage error={error} />
      {done ? <Notice>{done}</Notice> : null}
      {data && data.approvals.length === 0 ? <p className="muted">{t('audit.noApprovals')}</p> : null}
      {data && data.approvals.length > 0 ? (
        <table>
          <Head
            columns={[
              '#',
              t('audit.kind'),
              t('audit.target'),
              t('audit.requestedBy'),
              t('audit.at'),
              <span key="sr" className="sr-only">
                {t('audit.actions')}
              </span>,
            ]}
          />
          <tbody>
            {data.approvals.map((a) => {
              const own = a.requestedBy.toLowerCase().endsWith(`:${me}`)
              return (
                <tr key={a.id}>
                  <td className="num">{a.id}</td>
                  <td>{t(`audit.kinds.${a.kind}`, { defaultValue: a.kind })}</td>
                  <td className="code">{a.target}</td>
                  <td>{a.requestedBy}</td>
                  <td>{fmt.dateTime(a.requestedAt)}</td>
                  <td>
                    {own ? (
                      <button type="button" onClick={() => void cancel.run(a.id)}>
                        {t('audit.cancel')}
                      </button>
                    ) : (
                      <button type="button" onClick={() => setChosen(a.id)} aria-pressed={chosen === a.id}>
                        {t('audit.approve')}
                      </button>
                    )}
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      ) : null}
      <ErrorMessage error={cancel.error} />
      {chosen ? (
        <form onSubmit={submit} className="form" aria-labelledby="approve-form">
          <h3 id="approve-form">{t('audit.approveTitle', { id: chosen })}</h3>
          <CodeField value={code} onChange={setCode} />
          <ErrorMessage error={approve.error} />
          <button type="submit" className="primary" disabled={approve.busy}>
            {t('audit.approve')}
          </button>
        </form>
      ) : null}
    </section>
  )
}

/** Events per page of the audit search. */
const PAGE = 50

function Search() {
  const { t } = useTranslation()
  const fmt = useFormat()
  const [filters, setFilters] = useState({ actor: '', action: '', target: '', outcome: '', from: '', to: '' })
  const [asked, setAsked] = useState(filters)
  const set = (key: keyof typeof filters) => (e: { target: { value: string } }) =>
    setFilters({ ...filters, [key]: e.target.value })
  const search = (before: number | undefined, signal?: AbortSignal) =>
    get<{ events: AuditEvent[] }>(
      `/api/portal/v1/audit${query({
        actor: asked.actor,
        action: asked.action,
        target: asked.target,
        outcome: asked.outcome,
        from: asked.from ? new Date(asked.from).toISOString() : undefined,
        to: asked.to ? new Date(asked.to).toISOString() : undefined,
        before,
        limit: PAGE,
      })}`,
      signal,
    )
  const { data, error, loading } = useLoad((signal) => search(undefined, signal), [asked])
  // Older events, a page at a time, below the ones shown.
  const [older, setOlder] = useState<AuditEvent[]>([])
  const [exhausted, setExhausted] = useState(false)
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new search starts from the newest again.
  useEffect(() => {
    setOlder([])
    setExhausted(false)
  }, [asked])
  const more = useAction(async () => {
    const shown = [...(data?.events ?? []), ...older]
    const r = await search(shown.at(-1)?.seq)
    setOlder((o) => [...o, ...r.events])
    if (r.events.length < PAGE) setExhausted(true)
  })
  const events = [...(data?.events ?? []), ...older]
  const submit = (event: FormEvent) => {
    event.preventDefault()
    setAsked({ ...filters })
  }
  return (
    <section aria-labelledby="search">
      <h2 id="search">{t('audit.search')}</h2>
      <search>
        <form onSubmit={submit} className="form wide">
          <div className="row">
            <TextField
              label={t('audit.actor')}
              hint={t('audit.prefixHint')}
              value={filters.actor}
              onChange={set('actor')}
            />
            <TextField
              label={t('audit.action')}
              hint={t('audit.prefixHint')}
              value={filters.action}
              onChange={set('action')}
            />
            <TextField
              label={t('audit.target')}
              hint={t('audit.prefixHint')}
              value={filters.target}
              onChange={set('target')}
            />
          </div>
          <div className="row">
            <Field label={t('audit.outcome')}>
              {(props) => (
                <select {...props} value={filters.outcome} onChange={set('outcome')}>
                  <option value="">{t('audit.any')}</option>
                  {['ok', 'denied', 'failed'].map((o) => (
                    <option key={o} value={o}>
                      {t(`audit.outcomes.${o}`)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <TextField
              label={t('audit.from')}
              type="datetime-local"
              value={filters.from}
              onChange={set('from')}
            />
            <TextField label={t('audit.to')} type="datetime-local" value={filters.to} onChange={set('to')} />
          </div>
          <button type="submit">{t('audit.find')}</button>
        </form>
      </search>
      <Loading when={loading} />
      <ErrorMessage error={error} />
      {data ? (
        <table className="audit">
          <caption>{t('audit.found', { n: events.length })}</caption>
          <Head
            columns={[
              '#',
              t('audit.at'),
              t('audit.actor'),
              t('audit.action'),
              t('audit.target'),
              t('audit.outcome'),
              t('audit.detail'),
            ]}
          />
          <tbody>
            {events.map((e) => (
              <tr key={e.seq}>
                <td className="num">{e.seq}</td>
                <td>{fmt.dateTime(e.at)}</td>
                <td className="code">{e.actor}</td>
                <td className="code">{e.action}</td>
                <td className="code">{e.target ?? '—'}</td>
                <td>
                  <Badge tone={e.outcome === 'ok' ? 'ok' : 'bad'}>{t(`audit.outcomes.${e.outcome}`)}</Badge>
                </td>
                <td className="code small">
                  {Object.entries(e.detail)
                    .map(([k, v]) => `${k}=${String(v)}`)
                    .join(' ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {data && data.events.length === PAGE && !exhausted ? (
        <button type="button" onClick={() => void more.run()} disabled={more.busy}>
          {t('audit.more')}
        </button>
      ) : null}
      <ErrorMessage error={more.error} />
    </section>
  )
}
