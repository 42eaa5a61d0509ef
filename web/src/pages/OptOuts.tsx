import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { get, post } from '../api'
import { useSession } from '../session'
import { Badge, ErrorMessage, Head, Loading, Notice, PageTitle, useAction, useFormat, useLoad } from '../ui'

interface Registry {
  optouts: Array<{
    id: number
    institution: string
    registeredAt: string
    registeredBy: string
    channel: string
    deletedPatients: number
    deletedRecords: number
    propagation: {
      intakeStopped: boolean
      storeDeleted: boolean
      releasesBefore: number
      releasesAfter: number
    }
  }>
  requests: Array<{
    receipt: string
    institution: string
    status: string
    receivedAt: string
    doneAt: string | null
    optout: number | null
  }>
}

const TONE: Record<string, 'ok' | 'warn' | 'bad' | 'info'> = {
  registered: 'ok',
  received: 'info',
  unconfirmed: 'warn',
  failed: 'bad',
}

/** 提供停止: the registry (tombstones only) and how far each refusal has reached; the patients' requests. */
export function OptOutsPage() {
  const { t } = useTranslation()
  const fmt = useFormat()
  const session = useSession()
  const { data, error, loading, reload } = useLoad(
    (signal) => get<Registry>('/api/core/v1/optouts', signal),
    [],
  )
  const confirm = useAction(async (receipt: string) => {
    await post(`/api/core/v1/optout-requests/${receipt}/confirm`)
    reload()
    return receipt
  })
  const [confirmed, setConfirmed] = useState<string>()
  const mayConfirm = session.has('admin', 'intake_operator')
  return (
    <>
      <PageTitle>{t('optouts.title')}</PageTitle>
      <p>{t('optouts.intro')}</p>
      <Loading when={loading && !data} />
      <ErrorMessage error={error} />
      {data ? (
        <>
          <h2>{t('optouts.registry')}</h2>
          {data.optouts.length === 0 ? (
            <p className="muted">{t('common.none')}</p>
          ) : (
            <table>
              <Head
                columns={[
                  '#',
                  t('intake.institution'),
                  t('optouts.registeredAt'),
                  t('optouts.channel'),
                  t('optouts.deleted'),
                  t('optouts.propagation'),
                ]}
              />
              <tbody>
                {data.optouts.map((o) => (
                  <tr key={o.id}>
                    <td className="num">{o.id}</td>
                    <td>{o.institution}</td>
                    <td>{fmt.dateTime(o.registeredAt)}</td>
                    <td>{t(`optouts.channels.${o.channel}`, { defaultValue: o.channel })}</td>
                    <td>
                      {t('optouts.deletedCounts', {
                        patients: fmt.number(o.deletedPatients),
                        records: fmt.number(o.deletedRecords),
                      })}
                    </td>
                    <td>
                      <ul className="plain">
                        <li>
                          <Badge tone="ok">{t('optouts.intakeStopped')}</Badge>
                        </li>
                        <li>
                          <Badge tone="ok">{t('optouts.storeDeleted')}</Badge>
                        </li>
                        <li>
                          {t('optouts.releases', {
                            before: o.propagation.releasesBefore,
                            after: o.propagation.releasesAfter,
                          })}
                        </li>
                      </ul>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>{t('optouts.requests')}</h2>
          <p className="muted">{t('optouts.unconfirmedHint')}</p>
          {confirmed ? <Notice>{t('optouts.confirmed', { receipt: confirmed })}</Notice> : null}
          <ErrorMessage error={confirm.error} />
          {data.requests.length === 0 ? (
            <p className="muted">{t('common.none')}</p>
          ) : (
            <table>
              <Head
                columns={[
                  t('patients.receipt'),
                  t('intake.institution'),
                  t('optouts.requestState'),
                  t('optouts.receivedAt'),
                  t('optouts.doneAt'),
                  <span key="sr" className="sr-only">
                    {t('audit.actions')}
                  </span>,
                ]}
              />
              <tbody>
                {data.requests.map((r) => (
                  <tr key={r.receipt}>
                    <td className="code">{r.receipt}</td>
                    <td>{r.institution}</td>
                    <td>
                      <Badge tone={TONE[r.status] ?? 'info'}>{t(`patients.states.${r.status}`)}</Badge>
                    </td>
                    <td>{fmt.dateTime(r.receivedAt)}</td>
                    <td>{fmt.dateTime(r.doneAt)}</td>
                    <td>
                      {r.status === 'unconfirmed' && mayConfirm ? (
                        <button
                          type="button"
                          disabled={confirm.busy}
                          onClick={() =>
                            void confirm.run(r.receipt).then((done) => done && setConfirmed(done))
                          }
                        >
                          {t('optouts.confirm')}
                        </button>
                      ) : null}
                    </td>
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
