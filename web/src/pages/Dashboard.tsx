import { useTranslation } from 'react-i18next'
import { get } from '../api'
import { Link } from '../router'
import { useSession } from '../session'
import {
  Badge,
  ErrorMessage,
  Head,
  JobProgress,
  Loading,
  PageTitle,
  useEvery,
  useFormat,
  useLoad,
} from '../ui'

interface Overview {
  today: { submissions: number; files: number; processed: number; quarantined: number }
  quarantine: {
    total: number
    today: number
    latest: Array<{
      id: number
      submission: number
      institution: string
      file: string
      code: string
      reason: string
      at: string
    }>
  }
  jobs: {
    queued: number
    running: number
    failed: number
    active: Array<{
      id: number
      kind: string
      status: string
      progress: { done: number; total: number; unit: string } | null
      created: string
    }>
  }
  alerts: { today: number; activeBlocks: number }
  linkage: { toReview: number }
}

/** The day at a glance: intake, quarantine, alerts, jobs at work, pairs waiting for a reviewer. */
export function DashboardPage() {
  const { t } = useTranslation()
  const fmt = useFormat()
  const session = useSession()
  const { data, error, loading, reload } = useLoad(
    (signal) => get<Overview>('/api/core/v1/overview', signal),
    [],
  )
  useEvery(10_000, reload)
  return (
    <>
      <PageTitle>{t('dashboard.title')}</PageTitle>
      <Loading when={loading && !data} />
      <ErrorMessage error={error} />
      {data ? (
        <>
          <ul className="cards">
            <li>
              <span className="figure">{fmt.number(data.today.submissions)}</span>
              <span>{t('dashboard.submissionsToday')}</span>
              <small className="muted">
                {t('dashboard.filesProcessed', {
                  files: fmt.number(data.today.files),
                  processed: data.today.processed,
                })}
              </small>
            </li>
            <li>
              <span className="figure">{fmt.number(data.quarantine.today)}</span>
              <span>{t('dashboard.quarantinedToday')}</span>
              <small className="muted">
                {t('dashboard.quarantinedTotal', { n: fmt.number(data.quarantine.total) })}
              </small>
            </li>
            <li>
              <span className="figure">{fmt.number(data.alerts.today)}</span>
              <span>{t('dashboard.alertsToday')}</span>
              <small className="muted">{t('dashboard.activeBlocks', { n: data.alerts.activeBlocks })}</small>
            </li>
            <li>
              <span className="figure">{fmt.number(data.jobs.running + data.jobs.queued)}</span>
              <span>{t('dashboard.jobs')}</span>
              <small className="muted">{t('dashboard.jobsFailed', { n: data.jobs.failed })}</small>
            </li>
            <li>
              <span className="figure">{fmt.number(data.linkage.toReview)}</span>
              <span>{t('dashboard.pairs')}</span>
              {session.has('linkage_reviewer') ? <Link to="/linkage">{t('dashboard.review')}</Link> : null}
            </li>
          </ul>

          <h2>{t('dashboard.activeJobs')}</h2>
          {data.jobs.active.length === 0 ? (
            <p className="muted">{t('dashboard.noJobs')}</p>
          ) : (
            <table>
              <Head columns={['#', t('jobs.kind'), t('jobs.state'), t('jobs.created')]} />
              <tbody>
                {data.jobs.active.map((j) => (
                  <tr key={j.id}>
                    <td className="num">{j.id}</td>
                    <td>{t(`jobs.kinds.${j.kind}`, { defaultValue: j.kind })}</td>
                    <td>
                      <JobProgress status={j.status} progress={j.progress} />
                    </td>
                    <td>{fmt.dateTime(j.created)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}

          <h2>{t('dashboard.latestQuarantine')}</h2>
          {data.quarantine.latest.length === 0 ? (
            <p className="muted">
              <Badge tone="ok">{t('dashboard.quarantineEmpty')}</Badge>
            </p>
          ) : (
            <table>
              <Head
                columns={[
                  t('intake.submission'),
                  t('intake.institution'),
                  t('intake.file'),
                  t('intake.reason'),
                  t('intake.at'),
                ]}
              />
              <tbody>
                {data.quarantine.latest.map((q) => (
                  <tr key={q.id}>
                    <td className="num">{q.submission}</td>
                    <td>{q.institution}</td>
                    <td className="code">{q.file}</td>
                    <td>
                      <span className="code">{q.code}</span> {q.reason}
                    </td>
                    <td>{fmt.dateTime(q.at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      ) : null}
    </>
  )
}
