import { type FormEvent, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { get, post } from '../api'
import {
  Badge,
  ErrorMessage,
  Field,
  Notice,
  PageTitle,
  TextField,
  useAction,
  useFormat,
  useLoad,
} from '../ui'

interface Institution {
  code: string
  name: string
}
interface RequestView {
  receipt: string
  institution: string
  status: 'received' | 'registered' | 'unconfirmed' | 'failed'
  receivedAt: string
  doneAt: string | null
}

const TONE = { received: 'info', registered: 'ok', unconfirmed: 'warn', failed: 'bad' } as const

/**
 * 患者の皆さまへ: what is provided, to whom and why, in plain words; the 提供停止 request (checked once
 * more before it is sent, answered with a receipt number); and the request's state by that number.
 */
export function PatientsPage() {
  const { t } = useTranslation()
  return (
    <>
      <PageTitle>{t('patients.title')}</PageTitle>
      <section aria-labelledby="about" className="prose">
        <h2 id="about">{t('patients.aboutTitle')}</h2>
        <p>{t('patients.about1')}</p>
        <p>{t('patients.about2')}</p>
        <h3>{t('patients.whatTitle')}</h3>
        <ul>
          <li>{t('patients.what1')}</li>
          <li>{t('patients.what2')}</li>
          <li>{t('patients.what3')}</li>
        </ul>
        <h3>{t('patients.protectTitle')}</h3>
        <ul>
          <li>{t('patients.protect1')}</li>
          <li>{t('patients.protect2')}</li>
          <li>{t('patients.protect3')}</li>
        </ul>
        <h3>{t('patients.stopTitle')}</h3>
        <p>{t('patients.stop1')}</p>
        <p>{t('patients.stop2')}</p>
      </section>
      <RequestForm />
      <StatusLookup />
    </>
  )
}

function RequestForm() {
  const { t } = useTranslation()
  const institutions = useLoad(
    (signal) => get<{ institutions: Institution[] }>('/api/public/v1/institutions', signal),
    [],
  )
  const [form, setForm] = useState({ institution: '', patientId: '', birthDate: '' })
  const [confirming, setConfirming] = useState(false)
  const [sent, setSent] = useState<RequestView>()
  const send = useAction(async () => {
    const r = await post<{ request: RequestView }>('/api/public/v1/optout-requests', form)
    setSent(r.request)
    setConfirming(false)
  })
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [key]: e.target.value })
  const name =
    institutions.data?.institutions.find((i) => i.code === form.institution)?.name ?? form.institution

  if (sent)
    return (
      <section aria-labelledby="sent" className="panel">
        <h2 id="sent">{t('patients.sentTitle')}</h2>
        <Notice>
          <p>{t('patients.sentBody')}</p>
          <p className="receipt">
            {t('patients.receipt')}:{' '}
            <strong className="code" data-testid="receipt">
              {sent.receipt}
            </strong>
          </p>
          <p>{t('patients.keepReceipt')}</p>
        </Notice>
        <button
          type="button"
          onClick={() => {
            setSent(undefined)
            setForm({ institution: '', patientId: '', birthDate: '' })
          }}
        >
          {t('patients.another')}
        </button>
      </section>
    )

  const review = (event: FormEvent) => {
    event.preventDefault()
    setConfirming(true)
  }
  return (
    <section aria-labelledby="request" className="panel">
      <h2 id="request">{t('patients.formTitle')}</h2>
      <p>{t('patients.formIntro')}</p>
      {confirming ? (
        <div>
          <h3>{t('patients.confirmTitle')}</h3>
          <dl className="facts">
            <dt>{t('patients.institution')}</dt>
            <dd>{name}</dd>
            <dt>{t('patients.patientId')}</dt>
            <dd className="code">{form.patientId}</dd>
            <dt>{t('patients.birthDate')}</dt>
            <dd>{form.birthDate}</dd>
          </dl>
          <p>{t('patients.confirmBody')}</p>
          <ErrorMessage error={send.error} />
          <div className="actions">
            <button type="button" className="primary" disabled={send.busy} onClick={() => void send.run()}>
              {t('patients.send')}
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              {t('patients.edit')}
            </button>
          </div>
        </div>
      ) : (
        <form onSubmit={review} className="form">
          <ErrorMessage error={institutions.error} />
          <Field label={t('patients.institution')}>
            {(props) => (
              <select {...props} value={form.institution} onChange={set('institution')} required>
                <option value="">{t('patients.chooseInstitution')}</option>
                {(institutions.data?.institutions ?? []).map((i) => (
                  <option key={i.code} value={i.code}>
                    {i.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <TextField
            label={t('patients.patientId')}
            hint={t('patients.patientIdHint')}
            value={form.patientId}
            onChange={set('patientId')}
            autoComplete="off"
            required
            maxLength={64}
          />
          <TextField
            label={t('patients.birthDate')}
            type="date"
            value={form.birthDate}
            onChange={set('birthDate')}
            autoComplete="bday"
            required
          />
          <button type="submit" className="primary">
            {t('patients.next')}
          </button>
        </form>
      )}
    </section>
  )
}

function StatusLookup() {
  const { t } = useTranslation()
  const fmt = useFormat()
  const [receipt, setReceipt] = useState('')
  const [found, setFound] = useState<RequestView>()
  const lookup = useAction(async () => {
    setFound(undefined)
    const r = await get<{ request: RequestView }>(
      `/api/public/v1/optout-requests/${encodeURIComponent(receipt.trim())}`,
    )
    setFound(r.request)
  })
  const submit = (event: FormEvent) => {
    event.preventDefault()
    void lookup.run()
  }
  return (
    <section aria-labelledby="status" className="panel">
      <h2 id="status">{t('patients.statusTitle')}</h2>
      <form onSubmit={submit} className="form">
        <TextField
          label={t('patients.receipt')}
          hint={t('patients.receiptHint')}
          value={receipt}
          onChange={(e) => setReceipt(e.target.value)}
          autoComplete="off"
          required
        />
        <ErrorMessage error={lookup.error} />
        <button type="submit" disabled={lookup.busy}>
          {t('patients.check')}
        </button>
      </form>
      {found ? (
        <Notice>
          <p>
            <Badge tone={TONE[found.status]}>{t(`patients.states.${found.status}`)}</Badge>{' '}
            {t(`patients.stateBody.${found.status}`)}
          </p>
          <p className="muted">
            {t('patients.receivedAt', { at: fmt.dateTime(found.receivedAt) })}
            {found.doneAt ? ` ・ ${t('patients.doneAt', { at: fmt.dateTime(found.doneAt) })}` : ''}
          </p>
        </Notice>
      ) : null}
    </section>
  )
}
