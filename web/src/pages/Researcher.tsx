import { type FormEvent, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { get } from '../api'
import { Link } from '../router'
import { ErrorMessage, Head, Loading, PageTitle, TextField, useFormat, useLoad } from '../ui'
import { ContractView, type Project, ProjectTable } from './Projects'

interface Delivery {
  id: number
  release: string
  project: string
  recipient: string
  bytes: number
  sha256: string
  expiresAt: string
  maxDownloads: number
  downloads: number
}

/** The link's secret from a full download address, or the secret alone. */
function tokenOf(text: string): string | undefined {
  const trimmed = text.trim()
  const match =
    /\/downloads\/([A-Za-z0-9_-]{16,200})$/.exec(trimmed) ?? /^([A-Za-z0-9_-]{16,200})$/.exec(trimmed)
  return match?.[1]
}

/** 研究者ポータル: one's applications, their contracts, and the packages delivered to them. */
export function ResearcherPage() {
  const { t } = useTranslation()
  const fmt = useFormat()
  const projects = useLoad((signal) => get<{ projects: Project[] }>('/api/portal/v1/projects', signal), [])
  const deliveries = useLoad(
    (signal) => get<{ deliveries: Delivery[] }>('/api/portal/v1/deliveries', signal),
    [],
  )
  const [link, setLink] = useState('')
  const [bad, setBad] = useState(false)
  const submit = (event: FormEvent) => {
    event.preventDefault()
    const token = tokenOf(link)
    setBad(!token)
    if (token) window.location.assign(`/api/portal/v1/downloads/${token}`)
  }
  const contracts = (projects.data?.projects ?? []).filter((p) => p.contract)
  return (
    <>
      <PageTitle>{t('researcher.title')}</PageTitle>
      <section aria-labelledby="applications">
        <h2 id="applications">{t('researcher.applications')}</h2>
        <p>
          <Link to="/projects/new" className="button primary">
            {t('projects.apply')}
          </Link>
        </p>
        <Loading when={projects.loading && !projects.data} />
        <ErrorMessage error={projects.error} />
        {projects.data && projects.data.projects.length === 0 ? (
          <p className="muted">{t('projects.none')}</p>
        ) : null}
        {projects.data && projects.data.projects.length > 0 ? (
          <ProjectTable projects={projects.data.projects} fmt={fmt} />
        ) : null}
      </section>
      <section aria-labelledby="contracts">
        <h2 id="contracts">{t('researcher.contracts')}</h2>
        {contracts.length === 0 ? <p className="muted">{t('common.none')}</p> : null}
        {contracts.map((p) => (p.contract ? <ContractView key={p.code} contract={p.contract} /> : null))}
      </section>
      <section aria-labelledby="downloads">
        <h2 id="downloads">{t('researcher.downloads')}</h2>
        <p>{t('researcher.downloadsIntro')}</p>
        <ErrorMessage error={deliveries.error} />
        {deliveries.data && deliveries.data.deliveries.length === 0 ? (
          <p className="muted">{t('common.none')}</p>
        ) : null}
        {deliveries.data && deliveries.data.deliveries.length > 0 ? (
          <table>
            <Head
              columns={[
                t('releases.id'),
                t('projects.code'),
                t('releases.recipient'),
                t('releases.size'),
                t('releases.downloads'),
                t('releases.expires'),
                'SHA-256',
              ]}
            />
            <tbody>
              {deliveries.data.deliveries.map((d) => (
                <tr key={d.id}>
                  <td className="code">{d.release}</td>
                  <td className="code">{d.project}</td>
                  <td>{d.recipient}</td>
                  <td className="num">{fmt.number(d.bytes)}</td>
                  <td className="num">
                    {d.downloads} / {d.maxDownloads}
                  </td>
                  <td>{fmt.dateTime(d.expiresAt)}</td>
                  <td className="code small">{d.sha256.slice(0, 16)}…</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        <form onSubmit={submit} className="form">
          <TextField
            label={t('researcher.link')}
            hint={t('researcher.linkHint')}
            value={link}
            onChange={(e) => setLink(e.target.value)}
            required
          />
          {bad ? (
            <p className="error" role="alert">
              {t('researcher.badLink')}
            </p>
          ) : null}
          <button type="submit">{t('researcher.download')}</button>
        </form>
        <p className="muted">{t('researcher.open')}</p>
      </section>
    </>
  )
}
