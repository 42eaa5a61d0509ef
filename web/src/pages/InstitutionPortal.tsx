import { type FormEvent, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { api } from '../api'
import { ErrorMessage, Head, PageTitle, TextField, useFormat } from '../ui'
import { CategoryTable, type Holding, useCountsText } from './Institutions'

interface Holdings {
  institution: string
  name: string
  lastSubmission: string | null
  submissions: number
  categories: Holding[]
}
interface Submission {
  id: number
  status: string
  createdAt: string
  receivedAt: string | null
  processedAt: string | null
  counts: Record<string, number>
}
interface Receipt extends Submission {
  receipt: {
    files: number
    bytes: number
    duplicateFiles: number
    quarantinedAtReceipt: number
    categories: Record<string, number>
    sha256: string
    retainUntil: string
    signature: { keyId: string; ed25519: string }
  } | null
  quarantine: Array<{
    id: number
    file: string
    position: Record<string, string | number>
    code: string
    reason: string
  }>
}

/** A gateway route with the institution's key and without the staff session. */
const withKey = <T,>(key: string, path: string): Promise<T> =>
  api<T>('GET', path, undefined, { headers: { authorization: `Bearer ${key}` }, credentials: 'omit' })

/**
 * 医療機関の方へ: an institution's own submissions and holdings, read with its API key (kept in this
 * page's memory only: it is gone when the page is closed or reloaded).
 */
export function InstitutionPortalPage() {
  const { t } = useTranslation()
  const fmt = useFormat()
  const countsText = useCountsText()
  const [key, setKey] = useState('')
  const [holdings, setHoldings] = useState<Holdings>()
  const [submissions, setSubmissions] = useState<Submission[]>()
  const [receipt, setReceipt] = useState<Receipt>()
  const [error, setError] = useState<unknown>()
  const load = async (event: FormEvent) => {
    event.preventDefault()
    setError(undefined)
    try {
      setHoldings(await withKey<Holdings>(key, '/api/gateway/v1/holdings'))
      setSubmissions(
        (await withKey<{ submissions: Submission[] }>(key, '/api/gateway/v1/submissions')).submissions,
      )
      setReceipt(undefined)
    } catch (e) {
      // A refused key shows nothing of what an earlier one showed.
      setHoldings(undefined)
      setSubmissions(undefined)
      setReceipt(undefined)
      setError(e)
    }
  }
  const open = async (id: number) => {
    setError(undefined)
    try {
      setReceipt(await withKey<Receipt>(key, `/api/gateway/v1/submissions/${id}`))
    } catch (e) {
      setError(e)
    }
  }
  return (
    <>
      <PageTitle>{t('institution.title')}</PageTitle>
      <p>{t('institution.intro')}</p>
      <form onSubmit={load} className="form">
        <TextField
          label={t('institution.key')}
          hint={t('institution.keyHint')}
          type="password"
          autoComplete="off"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          required
        />
        <ErrorMessage error={error} />
        <button type="submit" className="primary">
          {t('institution.show')}
        </button>
      </form>
      {submissions ? (
        <section aria-labelledby="submissions">
          <h2 id="submissions">{t('institution.submissions')}</h2>
          {submissions.length === 0 ? <p className="muted">{t('common.none')}</p> : null}
          {submissions.length > 0 ? (
            <table>
              <Head
                columns={[
                  t('intake.submission'),
                  t('intake.status'),
                  t('intake.received'),
                  t('intake.counts'),
                  <span key="sr" className="sr-only">
                    {t('institution.receiptColumn')}
                  </span>,
                ]}
              />
              <tbody>
                {submissions.map((s) => (
                  <tr key={s.id}>
                    <td className="num">{s.id}</td>
                    <td>{t(`intake.statuses.${s.status}`, { defaultValue: s.status })}</td>
                    <td>{fmt.dateTime(s.receivedAt)}</td>
                    <td>{countsText(s.counts)}</td>
                    <td>
                      <button type="button" onClick={() => void open(s.id)}>
                        {t('institution.showReceipt', { id: s.id })}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </section>
      ) : null}
      {receipt ? (
        <section aria-labelledby="receipt">
          <h2 id="receipt">{t('institution.receipt', { id: receipt.id })}</h2>
          <dl className="facts">
            <dt>{t('intake.status')}</dt>
            <dd>{t(`intake.statuses.${receipt.status}`, { defaultValue: receipt.status })}</dd>
            <dt>{t('intake.received')}</dt>
            <dd>{fmt.dateTime(receipt.receivedAt)}</dd>
            <dt>{t('institution.processed')}</dt>
            <dd>{fmt.dateTime(receipt.processedAt)}</dd>
            {receipt.receipt ? (
              <>
                <dt>{t('institution.files')}</dt>
                <dd>
                  {t('institution.filesLine', {
                    files: fmt.number(receipt.receipt.files),
                    bytes: fmt.number(receipt.receipt.bytes),
                    duplicates: receipt.receipt.duplicateFiles,
                    quarantined: receipt.receipt.quarantinedAtReceipt,
                  })}
                </dd>
                <dt>{t('institution.categories')}</dt>
                <dd>
                  {Object.entries(receipt.receipt.categories)
                    .map(([k, n]) => `${t(`categories.${k}`, { defaultValue: k })} ${fmt.number(n)}`)
                    .join('、')}
                </dd>
                <dt>SHA-256</dt>
                <dd className="code small">{receipt.receipt.sha256}</dd>
                <dt>{t('institution.signature')}</dt>
                <dd className="code small">
                  {receipt.receipt.signature.keyId} {receipt.receipt.signature.ed25519.slice(0, 24)}…
                </dd>
                <dt>{t('institution.retainUntil')}</dt>
                <dd>{receipt.receipt.retainUntil}</dd>
              </>
            ) : null}
          </dl>
          {receipt.quarantine.length > 0 ? (
            <table>
              <caption>{t('institution.quarantine')}</caption>
              <Head columns={[t('intake.file'), t('intake.reason')]} />
              <tbody>
                {receipt.quarantine.map((q) => (
                  <tr key={q.id}>
                    <td className="code">{q.file}</td>
                    <td>
                      <span className="code">{q.code}</span> {q.reason}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </section>
      ) : null}
      {holdings ? (
        <section aria-labelledby="holdings">
          <h2 id="holdings">
            {t('institution.holdings', { name: holdings.name })}{' '}
            <span className="muted code">{holdings.institution}</span>
          </h2>
          <p>
            {t('institutions.last', {
              at: fmt.dateTime(holdings.lastSubmission),
              n: fmt.number(holdings.submissions),
            })}
          </p>
          <CategoryTable categories={holdings.categories} />
        </section>
      ) : null}
    </>
  )
}
