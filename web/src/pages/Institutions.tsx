import { useTranslation } from 'react-i18next'
import { get, query } from '../api'
import { useSession } from '../session'
import { BarChart, ErrorMessage, Head, Loading, PageTitle, useFormat, useLoad } from '../ui'

export interface Holding {
  category: string
  patients: number
  records: number
  firstDate: string | null
  lastDate: string | null
}

interface InstitutionRow {
  institution: string
  name: string
  lastSubmission: string | null
  submissions: number
  categories: Holding[]
  monthly: Array<{ month: string; patients: number; records: number }>
}

interface Submissions {
  submissions: Array<{
    id: number
    institution: string
    status: string
    channel: string
    createdAt: string
    receivedAt: string | null
    processedAt: string | null
    counts: Record<string, number>
  }>
}

/** 保有状況 per institution: categories, patients and records by month, last submission, receipts. */
export function InstitutionsPage() {
  const { t } = useTranslation()
  const fmt = useFormat()
  const session = useSession()
  const { data, error, loading } = useLoad(
    (signal) => get<{ institutions: InstitutionRow[] }>('/api/core/v1/institutions', signal),
    [],
  )
  const mayReadReceipts = session.has('admin', 'intake_operator', 'security_officer')
  const receipts = useLoad(
    (signal) =>
      mayReadReceipts
        ? get<Submissions>(`/api/core/v1/submissions${query({ limit: 20 })}`, signal)
        : Promise.resolve({ submissions: [] } as Submissions),
    [mayReadReceipts],
  )
  return (
    <>
      <PageTitle>{t('institutions.title')}</PageTitle>
      <Loading when={loading && !data} />
      <ErrorMessage error={error} />
      {data?.institutions.length === 0 ? <p className="muted">{t('institutions.none')}</p> : null}
      {data?.institutions.map((i) => (
        <section key={i.institution} className="panel" aria-labelledby={`inst-${i.institution}`}>
          <h2 id={`inst-${i.institution}`}>
            {i.name} <span className="muted code">{i.institution}</span>
          </h2>
          <p>
            {t('institutions.last', { at: fmt.dateTime(i.lastSubmission), n: fmt.number(i.submissions) })}
          </p>
          <CategoryTable categories={i.categories} />
          <div className="charts">
            <BarChart
              title={t('institutions.recordsByMonth')}
              unit={t('institutions.records')}
              data={i.monthly.map((m) => ({ label: m.month, value: m.records }))}
            />
            <BarChart
              title={t('institutions.patientsByMonth')}
              unit={t('institutions.patients')}
              data={i.monthly.map((m) => ({ label: m.month, value: m.patients }))}
            />
          </div>
        </section>
      ))}
      {mayReadReceipts ? (
        <section aria-labelledby="receipts">
          <h2 id="receipts">{t('institutions.receipts')}</h2>
          <ErrorMessage error={receipts.error} />
          <SubmissionTable rows={receipts.data?.submissions ?? []} />
        </section>
      ) : null}
    </>
  )
}

export function SubmissionTable({ rows }: { rows: Submissions['submissions'] }) {
  const { t } = useTranslation()
  const fmt = useFormat()
  const countsText = useCountsText()
  if (rows.length === 0) return <p className="muted">{t('common.none')}</p>
  return (
    <table>
      <Head
        columns={[
          t('intake.submission'),
          t('intake.institution'),
          t('intake.status'),
          t('intake.received'),
          t('intake.counts'),
        ]}
      />
      <tbody>
        {rows.map((s) => (
          <tr key={s.id}>
            <td className="num">{s.id}</td>
            <td>{s.institution}</td>
            <td>{t(`intake.statuses.${s.status}`, { defaultValue: s.status })}</td>
            <td>{fmt.dateTime(s.receivedAt)}</td>
            <td>{countsText(s.counts)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** 保有状況 by data category: patients, records and the period they cover. */
export function CategoryTable({ categories }: { categories: readonly Holding[] }) {
  const { t } = useTranslation()
  const fmt = useFormat()
  return (
    <table>
      <caption>{t('institutions.categories')}</caption>
      <Head
        columns={[
          t('institutions.category'),
          t('institutions.patients'),
          t('institutions.records'),
          t('institutions.period'),
        ]}
      />
      <tbody>
        {categories.map((c) => (
          <tr key={c.category}>
            <th scope="row">{t(`categories.${c.category}`, { defaultValue: c.category })}</th>
            <td className="num">{fmt.number(c.patients)}</td>
            <td className="num">{fmt.number(c.records)}</td>
            <td>
              {c.firstDate ?? '—'} – {c.lastDate ?? '—'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** A submission's counts in words: the non-zero ones, each with its name. */
export function useCountsText(): (counts: Readonly<Record<string, number>>) => string {
  const { t } = useTranslation()
  const fmt = useFormat()
  return (counts) =>
    Object.entries(counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${t(`intake.countNames.${k}`, { defaultValue: k })} ${fmt.number(n)}`)
      .join('、')
}
