import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { get, post } from '../api'
import { Link, navigate, type Route } from '../router'
import { ErrorMessage, Head, Loading, Notice, PageTitle, useAction, useLoad } from '../ui'

interface FieldWeight {
  field: string
  level: string | null
  weight: number
}
interface Explanation {
  prior: number
  total: number
  fields: FieldWeight[]
}
interface Identity {
  localId: string
  surname?: string
  given?: string
  surnameKana?: string
  givenKana?: string
  birthDate?: string
  sex?: string
  postalCode?: string
  address?: string
  phones: string[]
  insurerNumber?: string
  insuredSymbol?: string
  insuredNumber?: string
}
interface Side {
  ref: number
  institution: string
  identity: Identity
}
interface Pair {
  weight: number
  state: string
  explanation: Explanation
  a: Side
  b: Side
}

/** What each compared field shows of each side. */
const SHOWN: Record<string, (i: Identity) => string> = {
  surname: (i) => [i.surname, i.surnameKana].filter(Boolean).join(' / '),
  given: (i) => [i.given, i.givenKana].filter(Boolean).join(' / '),
  birthDate: (i) => i.birthDate ?? '',
  sex: (i) => i.sex ?? '',
  address: (i) => [i.postalCode ? `〒${i.postalCode}` : '', i.address].filter(Boolean).join(' '),
  phone: (i) => i.phones.join(', '),
  insurance: (i) => [i.insurerNumber, i.insuredSymbol, i.insuredNumber].filter(Boolean).join(' / '),
}

/**
 * 名寄せの確認: the pairs the model was unsure of, and one pair side by side. The only screen that shows
 * personal data; the server shows it to linkage reviewers only and audits every showing.
 */
export function LinkagePage({ route }: { route: Route }) {
  const [a, b] = [Number(route.parts[1]), Number(route.parts[2])]
  return Number.isInteger(a) && Number.isInteger(b) && a > 0 && b > 0 ? (
    <PairPage a={a} b={b} />
  ) : (
    <QueuePage />
  )
}

function QueuePage() {
  const { t } = useTranslation()
  const { data, error, loading } = useLoad(
    (signal) =>
      get<{ pairs: Array<{ a: number; b: number; weight: number }> }>(
        '/api/core/v1/link/pairs?limit=100',
        signal,
      ),
    [],
  )
  return (
    <>
      <PageTitle>{t('linkage.title')}</PageTitle>
      <p>{t('linkage.intro')}</p>
      <Loading when={loading && !data} />
      <ErrorMessage error={error} />
      {data && data.pairs.length === 0 ? <p className="muted">{t('linkage.empty')}</p> : null}
      {data && data.pairs.length > 0 ? (
        <table>
          <Head
            columns={[
              t('linkage.pair'),
              t('linkage.weight'),
              <span key="sr" className="sr-only">
                {t('linkage.open')}
              </span>,
            ]}
          />
          <tbody>
            {data.pairs.map((p) => (
              <tr key={`${p.a}-${p.b}`}>
                <td className="code">
                  {p.a} – {p.b}
                </td>
                <td className="num">{p.weight.toFixed(2)}</td>
                <td>
                  <Link to={`/linkage/${p.a}/${p.b}`}>{t('linkage.openPair', { a: p.a, b: p.b })}</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  )
}

function PairPage({ a, b }: { a: number; b: number }) {
  const { t } = useTranslation()
  const { data, error, loading } = useLoad(
    (signal) => get<{ pair: Pair }>(`/api/core/v1/link/pairs/${a}/${b}`, signal),
    [a, b],
  )
  const [decided, setDecided] = useState<string>()
  const decide = useAction(async (decision: 'accept' | 'reject') => {
    const r = await post<{ state: string }>(`/api/core/v1/link/pairs/${a}/${b}/${decision}`)
    setDecided(r.state)
  })
  const pair = data?.pair
  return (
    <>
      <PageTitle>{t('linkage.pairTitle', { a, b })}</PageTitle>
      <p className="warning" role="note">
        {t('linkage.personalData')}
      </p>
      <Loading when={loading && !data} />
      <ErrorMessage error={error} />
      {pair ? (
        <>
          <p>
            {t('linkage.total', {
              weight: pair.explanation.total.toFixed(2),
              prior: pair.explanation.prior.toFixed(2),
            })}
          </p>
          <table className="pair">
            <caption>{t('linkage.comparison')}</caption>
            <Head
              columns={[
                t('linkage.field'),
                'A · {pair.a.institution} · {pair.a.identity.localId}',
                'B · {pair.b.institution} · {pair.b.identity.localId}',
                t('linkage.agreement'),
                t('linkage.weight'),
              ]}
            />
            <tbody>
              {pair.explanation.fields.map((f) => (
                <tr key={f.field} className={f.weight > 0 ? 'agree' : f.weight < 0 ? 'disagree' : undefined}>
                  <th scope="row">{t(`linkage.fields.${f.field}`, { defaultValue: f.field })}</th>
                  <td>{SHOWN[f.field]?.(pair.a.identity) || '—'}</td>
                  <td>{SHOWN[f.field]?.(pair.b.identity) || '—'}</td>
                  <td>{f.level ?? t('linkage.missing')}</td>
                  <td className="num">{f.weight > 0 ? `+${f.weight.toFixed(2)}` : f.weight.toFixed(2)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {decided || pair.state !== 'review' ? (
            <Notice>
              {t('linkage.decided', { state: t(`linkage.states.${decided ?? pair.state}`) })}{' '}
              <Link to="/linkage">{t('linkage.back')}</Link>
            </Notice>
          ) : (
            <div className="actions">
              <button
                type="button"
                className="primary"
                disabled={decide.busy}
                onClick={() => void decide.run('accept')}
              >
                {t('linkage.accept')}
              </button>
              <button
                type="button"
                className="danger"
                disabled={decide.busy}
                onClick={() => void decide.run('reject')}
              >
                {t('linkage.reject')}
              </button>
              <button type="button" onClick={() => navigate('/linkage')}>
                {t('linkage.later')}
              </button>
            </div>
          )}
          <ErrorMessage error={decide.error} />
        </>
      ) : null}
    </>
  )
}
