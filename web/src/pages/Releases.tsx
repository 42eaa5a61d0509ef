import { type FormEvent, useEffect, useMemo, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { parse as parseYaml } from 'yaml'
import { ApiError, api, get, post } from '../api'
import { Link, type Route } from '../router'
import { useSession } from '../session'
import {
  Badge,
  BarChart,
  ErrorMessage,
  Field,
  Head,
  JobProgress,
  Loading,
  Notice,
  PageTitle,
  useAction,
  useFormat,
  useLoad,
} from '../ui'
import type { Project } from './Projects'

export interface ReleaseRow {
  id: string
  kind: 'dataset' | 'statistics'
  state: string
  persons: number | null
  started_at: string
  finished_at: string | null
  error: string | null
  project: string
}

export interface Job {
  id: number
  kind: string
  status: string
  error: string | null
  result: Record<string, unknown> | null
  progress: { done: number; total: number; unit: string } | null
}

interface Policy {
  name: string
  description: string
  k: number
  suppression: number
  quasiIdentifiers: string[]
}

interface Measure {
  id: number
  title: string
  titleJa: string
  columns: string[]
  evidence: string
  satisfied: boolean
}

interface Report {
  release: string
  built: string
  cohort: {
    linkedPatients: number
    candidates: number
    matched: number
    withheld: number
    released: number
    reference: string
  }
  tables: Array<{ name: string; rows: number; variables: string[] }>
  rareValues: { threshold: number; suppressed: Record<string, number> }
  images: { files: number; withheld: number }
  documents: { files: number; spans: number }
  anonymization: {
    measures: Measure[]
    privacy: {
      k: { required: number; achieved: number }
      suppression: { maxRecords: number; records: number }
    }
    summary: { levels: Record<string, number>; informationLoss: number; metric: string }
    risk: {
      prosecutor: { highest: number; average: number; recordsAtRisk: number }
      journalist: { highest: number; average: number; recordsAtRisk: number }
      marketer: number
      histogram: Array<{ size: string | number; classes: number; records: number }>
    }
    columns: Array<{
      column: string
      role: string
      action: string
      hierarchy?: { level: number; height: number; source: string }
      coding?: string[]
    }>
  }
  verification: { ok: boolean }
}

interface Delivery {
  id: number
  release: string
  recipient: string
  bytes: number
  expiresAt: string
  maxDownloads: number
  downloads: number
  token?: string
}

interface ReleaseDetail extends ReleaseRow {
  contract: string
  built_by: string
  recipients: Array<{ name: string; organisation: string }>
  report: Report | null
  deliveries: Delivery[]
}

/** Polls a queued job once a second until it is done or failed. */
export function useJob(id: number | undefined) {
  const [job, setJob] = useState<Job>()
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    if (id === undefined) return
    let stop = false
    let timer: ReturnType<typeof setTimeout>
    const tick = async () => {
      try {
        const r = await get<{ job: Job }>(`/api/portal/v1/jobs/${id}`)
        if (stop) return
        setJob(r.job)
        if (r.job.status === 'queued' || r.job.status === 'running') timer = setTimeout(tick, 1000)
      } catch (e) {
        if (!stop) setError(e)
      }
    }
    void tick()
    return () => {
      stop = true
      clearTimeout(timer)
    }
  }, [id])
  return { job, error }
}

/** 提供データの作成: the list, the builder, and each release's report and deliveries. */
export function ReleasesPage({ route }: { route: Route }) {
  const id = route.parts[1]
  if (id === 'new') return <Builder project={route.query.get('project') ?? ''} />
  if (id) return <ReleasePage id={id} />
  return <ReleaseList />
}

function ReleaseList() {
  const { t } = useTranslation()
  const fmt = useFormat()
  const session = useSession()
  const { data, error, loading } = useLoad(
    (signal) => get<{ releases: ReleaseRow[] }>('/api/portal/v1/releases', signal),
    [],
  )
  return (
    <>
      <PageTitle>{t('releases.title')}</PageTitle>
      {session.has('admin', 'anonymization_engineer') ? (
        <p>
          <Link to="/releases/new" className="button primary">
            {t('releases.new')}
          </Link>
        </p>
      ) : null}
      <Loading when={loading && !data} />
      <ErrorMessage error={error} />
      {data && data.releases.length === 0 ? <p className="muted">{t('releases.none')}</p> : null}
      {data && data.releases.length > 0 ? (
        <table>
          <Head
            columns={[
              t('releases.id'),
              t('releases.kind'),
              t('projects.code'),
              t('releases.state'),
              t('releases.persons'),
              t('releases.finished'),
            ]}
          />
          <tbody>
            {data.releases.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link to={`/releases/${r.id}`} className="code">
                    {r.id}
                  </Link>
                </td>
                <td>{t(`releases.kinds.${r.kind}`)}</td>
                <td className="code">{r.project}</td>
                <td>
                  <Badge tone={r.state === 'built' ? 'ok' : r.state === 'failed' ? 'bad' : 'info'}>
                    {t(`releases.states.${r.state}`, { defaultValue: r.state })}
                  </Badge>
                </td>
                <td className="num">{fmt.number(r.persons)}</td>
                <td>{fmt.dateTime(r.finished_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  )
}

const TEMPLATE = `# 提供データの仕様 (YAML)。project と policy は画面で選びます。
title: ""
cohort:
  conditions: [E11]
  from: "2020-01-01"
  to: "2025-12-31"
tables: [persons, conditions, medications, labs]
formats: [csv, parquet]
`

/** The spec as the editor holds it: parsed, or the parser's first line of complaint. */
function readEditor(text: string): { spec?: Record<string, unknown>; problem?: string } {
  try {
    const value = parseYaml(text) as unknown
    if (!value || typeof value !== 'object' || Array.isArray(value)) return { problem: 'not a mapping' }
    return { spec: value as Record<string, unknown> }
  } catch (error) {
    return { problem: (error as Error).message.split('\n')[0] }
  }
}

function Builder({ project: initial }: { project: string }) {
  const { t } = useTranslation()
  const fmt = useFormat()
  const projects = useLoad((signal) => get<{ projects: Project[] }>('/api/portal/v1/projects', signal), [])
  const policies = useLoad((signal) => get<{ policies: Policy[] }>('/api/portal/v1/policies', signal), [])
  const [project, setProject] = useState(initial)
  const [policy, setPolicy] = useState('default')
  const [text, setText] = useState(TEMPLATE)
  const [count, setCount] = useState<{ persons?: number; error?: unknown; busy: boolean }>({ busy: false })
  const [jobId, setJobId] = useState<number>()
  const { job, error: jobError } = useJob(jobId)
  const parsed = useMemo(() => readEditor(text), [text])
  const cohortText = JSON.stringify(parsed.spec?.cohort ?? {})
  const contracted = (projects.data?.projects ?? []).filter((p) => p.contract?.state === 'active')

  // The live count: the cohort as typed, half a second after the typing stops.
  useEffect(() => {
    if (parsed.problem) return
    const controller = new AbortController()
    const timer = setTimeout(() => {
      setCount((c) => ({ ...c, busy: true }))
      fetchCount(JSON.parse(cohortText), controller.signal)
        .then((persons) => setCount({ persons, busy: false }))
        .catch((error) => {
          if ((error as Error).name !== 'AbortError') setCount({ error, busy: false })
        })
    }, 500)
    return () => {
      clearTimeout(timer)
      controller.abort()
    }
  }, [cohortText, parsed.problem])

  const run = useAction(async () => {
    if (!parsed.spec) throw new ApiError(t('releases.specInvalid', { problem: parsed.problem }), 400, 'spec')
    const r = await post<{ job: number }>(`/api/portal/v1/projects/${project}/releases`, {
      spec: parsed.spec,
      ...(policy === 'default' ? {} : { policy }),
    })
    setJobId(r.job)
  })
  const submit = (event: FormEvent) => {
    event.preventDefault()
    void run.run()
  }
  const builtId = job?.status === 'done' ? (job.result?.id as string | undefined) : undefined
  const chosen = policies.data?.policies.find((p) => p.name === policy)
  return (
    <>
      <PageTitle>{t('releases.builder')}</PageTitle>
      <form onSubmit={submit} className="form wide">
        <ErrorMessage error={projects.error} />
        <ProjectSelect projects={contracted} value={project} onChange={setProject} />
        <Field
          label={t('releases.policy')}
          hint={
            chosen
              ? t('releases.policyHint', {
                  k: chosen.k,
                  qi: chosen.quasiIdentifiers.join(', '),
                  suppression: fmt.percent(chosen.suppression),
                })
              : undefined
          }
        >
          {(props) => (
            <select {...props} value={policy} onChange={(e) => setPolicy(e.target.value)}>
              {(policies.data?.policies ?? [{ name: 'default', description: '' } as Policy]).map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name}
                  {p.description ? ` — ${p.description}` : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('releases.spec')} hint={t('releases.specHint')}>
          {(props) => (
            <textarea
              {...props}
              className="code editor"
              rows={14}
              spellCheck={false}
              value={text}
              onChange={(e) => setText(e.target.value)}
              aria-invalid={parsed.problem ? true : undefined}
            />
          )}
        </Field>
        {parsed.problem ? (
          <p className="error" role="alert">
            {t('releases.specInvalid', { problem: parsed.problem })}
          </p>
        ) : null}
        <output className="count" aria-live="polite">
          {count.busy
            ? t('releases.counting')
            : count.persons !== undefined
              ? t('releases.cohortCount', { n: fmt.number(count.persons) })
              : ''}
        </output>
        <ErrorMessage error={count.error} />
        <ErrorMessage error={run.error} />
        <button
          type="submit"
          className="primary"
          disabled={
            run.busy ||
            !project ||
            !!parsed.problem ||
            (job && job.status !== 'done' && job.status !== 'failed')
          }
        >
          {t('releases.run')}
        </button>
      </form>
      {job ? (
        <section aria-labelledby="job" className="panel">
          <h2 id="job">{t('releases.jobTitle', { id: job.id })}</h2>
          <JobProgress status={job.status} progress={job.progress} />
          {job.status === 'failed' ? (
            <p className="error" role="alert">
              {job.error}
            </p>
          ) : null}
          {builtId ? (
            <Notice>
              {t('releases.built', { id: builtId })}{' '}
              <Link to={`/releases/${builtId}`}>{t('releases.openReport')}</Link>
            </Notice>
          ) : null}
        </section>
      ) : null}
      <ErrorMessage error={jobError} />
    </>
  )
}

/** The projects a release or a query may be made for: those with an active contract. */
export function ProjectSelect({
  projects,
  value,
  onChange,
}: {
  projects: readonly Project[]
  value: string
  onChange: (code: string) => void
}) {
  const { t } = useTranslation()
  return (
    <Field label={t('releases.project')} hint={t('releases.projectHint')}>
      {(props) => (
        <select {...props} value={value} onChange={(e) => onChange(e.target.value)} required>
          <option value="">{t('releases.chooseProject')}</option>
          {projects.map((p) => (
            <option key={p.code} value={p.code}>
              {p.code} {p.title}
            </option>
          ))}
        </select>
      )}
    </Field>
  )
}

const fetchCount = async (cohort: unknown, signal: AbortSignal): Promise<number> =>
  (await api<{ persons: number }>('POST', '/api/core/v1/cohort-count', { cohort }, { signal })).persons

function ReleasePage({ id }: { id: string }) {
  const { t } = useTranslation()
  const fmt = useFormat()
  const session = useSession()
  const { data, error, loading, reload } = useLoad(
    (signal) => get<{ release: ReleaseDetail }>(`/api/portal/v1/releases/${id}`, signal),
    [id],
  )
  const r = data?.release
  return (
    <>
      <PageTitle>{t('releases.releaseTitle', { id })}</PageTitle>
      <Loading when={loading && !data} />
      <ErrorMessage error={error} />
      {r ? (
        <>
          <dl className="facts">
            <dt>{t('releases.state')}</dt>
            <dd>
              <Badge tone={r.state === 'built' ? 'ok' : r.state === 'failed' ? 'bad' : 'info'}>
                {t(`releases.states.${r.state}`, { defaultValue: r.state })}
              </Badge>
            </dd>
            <dt>{t('projects.code')}</dt>
            <dd>
              <Link to={`/projects/${r.project}`} className="code">
                {r.project}
              </Link>
            </dd>
            <dt>{t('projects.contract')}</dt>
            <dd className="code">{r.contract}</dd>
            <dt>{t('releases.persons')}</dt>
            <dd>{fmt.number(r.persons)}</dd>
            <dt>{t('releases.finished')}</dt>
            <dd>{fmt.dateTime(r.finished_at)}</dd>
          </dl>
          {r.error ? <p className="error">{r.error}</p> : null}
          {r.report ? <ReportView report={r.report} /> : null}
          <Deliveries
            release={r}
            canDeliver={session.has('admin', 'anonymization_engineer')}
            onChange={reload}
          />
        </>
      ) : null}
    </>
  )
}

function ReportView({ report }: { report: Report }) {
  const { t } = useTranslation()
  const fmt = useFormat()
  const a = report.anonymization
  const generalized = a.columns.filter((c) => c.hierarchy && c.hierarchy.level > 0)
  return (
    <section aria-labelledby="report">
      <h2 id="report">{t('releases.report')}</h2>
      <p>
        {t('releases.cohortLine', {
          released: fmt.number(report.cohort.released),
          matched: fmt.number(report.cohort.matched),
          withheld: fmt.number(report.cohort.withheld),
          reference: report.cohort.reference,
        })}{' '}
        <Badge tone={report.verification.ok ? 'ok' : 'bad'}>
          {report.verification.ok ? t('releases.verified') : t('releases.notVerified')}
        </Badge>
      </p>
      <h3>{t('releases.measures')}</h3>
      <table>
        <Head
          columns={[
            '#',
            t('releases.measure'),
            t('releases.columns'),
            t('releases.evidence'),
            t('releases.met'),
          ]}
        />
        <tbody>
          {a.measures.map((m) => (
            <tr key={m.id}>
              <td className="num">{m.id}</td>
              <th scope="row">{m.titleJa}</th>
              <td>{m.columns.join(', ') || '—'}</td>
              <td>{m.evidence}</td>
              <td>
                <Badge tone={m.satisfied ? 'ok' : 'bad'}>
                  {m.satisfied ? t('common.yes') : t('common.no')}
                </Badge>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>{t('releases.risk')}</h3>
      <table>
        <Head
          columns={[
            t('releases.attacker'),
            t('releases.highest'),
            t('releases.average'),
            t('releases.atRisk'),
          ]}
        />
        <tbody>
          {(['prosecutor', 'journalist'] as const).map((m) => (
            <tr key={m}>
              <th scope="row">{t(`releases.attackers.${m}`)}</th>
              <td className="num">{fmt.percent(a.risk[m].highest)}</td>
              <td className="num">{fmt.percent(a.risk[m].average)}</td>
              <td className="num">{fmt.percent(a.risk[m].recordsAtRisk)}</td>
            </tr>
          ))}
          <tr>
            <th scope="row">{t('releases.attackers.marketer')}</th>
            <td />
            <td className="num">{fmt.percent(a.risk.marketer)}</td>
            <td />
          </tr>
        </tbody>
      </table>
      <p>
        {t('releases.kLine', {
          required: a.privacy.k.required,
          achieved: a.privacy.k.achieved,
          suppressed: fmt.number(a.privacy.suppression.records),
          max: fmt.number(a.privacy.suppression.maxRecords),
        })}
      </p>
      <BarChart
        title={t('releases.histogram')}
        unit={t('releases.persons')}
        data={a.risk.histogram.map((h) => ({ label: String(h.size), value: h.records }))}
      />
      <h3>{t('releases.changed')}</h3>
      <ul>
        {generalized.map((c) => (
          <li key={c.column}>
            {t('releases.generalizedLine', {
              column: c.column,
              level: c.hierarchy?.level,
              height: c.hierarchy?.height,
              source: c.hierarchy?.source,
            })}
          </li>
        ))}
        {a.columns
          .filter((c) => c.action !== 'kept' && !(c.hierarchy && c.hierarchy.level > 0))
          .map((c) => (
            <li key={c.column}>
              {c.column}: {c.action}
              {c.coding?.length ? ` (${c.coding.join('; ')})` : ''}
            </li>
          ))}
        <li>
          {t('releases.rareLine', {
            threshold: report.rareValues.threshold,
            detail:
              Object.entries(report.rareValues.suppressed)
                .map(([k, n]) => `${k} ${n}`)
                .join('、') || t('common.none'),
          })}
        </li>
        <li>{t('releases.imagesLine', { files: report.images.files, withheld: report.images.withheld })}</li>
        <li>
          {t('releases.documentsLine', { files: report.documents.files, spans: report.documents.spans })}
        </li>
      </ul>
      <h3>{t('releases.tables')}</h3>
      <table>
        <Head columns={[t('releases.table'), t('releases.rows'), t('releases.variables')]} />
        <tbody>
          {report.tables.map((tb) => (
            <tr key={tb.name}>
              <th scope="row">{tb.name}</th>
              <td className="num">{fmt.number(tb.rows)}</td>
              <td>{tb.variables.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}

function Deliveries({
  release,
  canDeliver,
  onChange,
}: {
  release: ReleaseDetail
  canDeliver: boolean
  onChange: () => void
}) {
  const { t } = useTranslation()
  const fmt = useFormat()
  const [recipient, setRecipient] = useState(release.recipients[0]?.name ?? '')
  const [made, setMade] = useState<{ path: string; delivery: Delivery }>()
  const deliver = useAction(async () => {
    const r = await post<{ path: string; delivery: Delivery }>(
      `/api/portal/v1/releases/${release.id}/deliveries`,
      { recipient },
    )
    setMade(r)
    onChange()
  })
  const submit = (event: FormEvent) => {
    event.preventDefault()
    void deliver.run()
  }
  return (
    <section aria-labelledby="deliveries">
      <h2 id="deliveries">{t('releases.deliveries')}</h2>
      {release.deliveries.length === 0 ? (
        <p className="muted">{t('common.none')}</p>
      ) : (
        <table>
          <Head
            columns={[
              '#',
              t('releases.recipient'),
              t('releases.size'),
              t('releases.downloads'),
              t('releases.expires'),
            ]}
          />
          <tbody>
            {release.deliveries.map((d) => (
              <tr key={d.id}>
                <td className="num">{d.id}</td>
                <td>{d.recipient}</td>
                <td className="num">{fmt.number(d.bytes)}</td>
                <td className="num">
                  {d.downloads} / {d.maxDownloads}
                </td>
                <td>{fmt.dateTime(d.expiresAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {made ? (
        <Notice>
          <p>{t('releases.linkOnce')}</p>
          <p>
            <a href={made.path} download className="code" data-testid="download-link">
              {`${window.location.origin}${made.path}`}
            </a>
          </p>
        </Notice>
      ) : null}
      {canDeliver && release.state === 'built' && release.kind === 'dataset' ? (
        <form onSubmit={submit} className="form">
          <Field label={t('releases.recipient')}>
            {(props) => (
              <select {...props} value={recipient} onChange={(e) => setRecipient(e.target.value)}>
                {release.recipients.map((r) => (
                  <option key={r.name} value={r.name}>
                    {r.name}（{r.organisation}）
                  </option>
                ))}
              </select>
            )}
          </Field>
          <ErrorMessage error={deliver.error} />
          <button type="submit" disabled={deliver.busy || !recipient}>
            {t('releases.deliver')}
          </button>
        </form>
      ) : null}
    </section>
  )
}
