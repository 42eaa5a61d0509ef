import { type FormEvent, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { get, post } from '../api'
import { Link, navigate, type Route } from '../router'
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
  useFormat,
  useLoad,
} from '../ui'

export interface Contract {
  code: string
  project: string
  state: string
  recipients: Array<{ name: string; organisation: string; keyId?: string }>
  purposes: string[]
  sharing: string
  bans: string[]
  publicationCheck: boolean
  starts: string
  ends: string
  destroyBy: string
  signedBy: string
}

export interface Project {
  code: string
  title: string
  organisation: string
  investigator: string
  purpose: 'research' | 'administration'
  kind: string
  state: string
  version: number
  appliedBy: string
  appliedAt: string
  application: {
    summary: string
    items: string[]
    cohort: string
    period: { from: string; to: string }
    security: string[]
  }
  reviews: Array<{ version: number; reviewer: string; decision: string; comment: string; at: string }>
  approvalsNeeded: number
  contract?: Contract
}

const STATE_TONE: Record<string, 'ok' | 'warn' | 'bad' | 'info'> = {
  submitted: 'info',
  approved: 'ok',
  contracted: 'ok',
  rejected: 'bad',
  withdrawn: 'warn',
  closed: 'warn',
}

export function ProjectState({ state }: { state: string }) {
  const { t } = useTranslation()
  return (
    <Badge tone={STATE_TONE[state] ?? 'info'}>{t(`projects.states.${state}`, { defaultValue: state })}</Badge>
  )
}

/** 利用申請と審査: applications, the committee's review (two approvals), contracts. */
export function ProjectsPage({ route }: { route: Route }) {
  const code = route.parts[1]
  if (code === 'new') return <ApplicationForm />
  if (code) return <ProjectPage code={code} />
  return <ProjectList />
}

function ProjectList() {
  const { t } = useTranslation()
  const fmt = useFormat()
  const session = useSession()
  const { data, error, loading } = useLoad(
    (signal) => get<{ projects: Project[] }>('/api/portal/v1/projects', signal),
    [],
  )
  return (
    <>
      <PageTitle>{t('projects.title')}</PageTitle>
      {session.has('researcher', 'admin') ? (
        <p>
          <Link to="/projects/new" className="button primary">
            {t('projects.apply')}
          </Link>
        </p>
      ) : null}
      <Loading when={loading && !data} />
      <ErrorMessage error={error} />
      {data && data.projects.length === 0 ? <p className="muted">{t('projects.none')}</p> : null}
      {data && data.projects.length > 0 ? <ProjectTable projects={data.projects} fmt={fmt} /> : null}
    </>
  )
}

export function ProjectTable({ projects, fmt }: { projects: Project[]; fmt: ReturnType<typeof useFormat> }) {
  const { t } = useTranslation()
  return (
    <table>
      <Head
        columns={[
          t('projects.code'),
          t('projects.titleField'),
          t('projects.organisation'),
          t('projects.state'),
          t('projects.approvals'),
          t('projects.appliedAt'),
        ]}
      />
      <tbody>
        {projects.map((p) => (
          <tr key={p.code}>
            <td>
              <Link to={`/projects/${p.code}`} className="code">
                {p.code}
              </Link>
            </td>
            <td>{p.title}</td>
            <td>{p.organisation}</td>
            <td>
              <ProjectState state={p.state} />
            </td>
            <td className="num">
              {p.reviews.filter((r) => r.version === p.version && r.decision === 'approve').length} /{' '}
              {p.approvalsNeeded}
            </td>
            <td>{fmt.dateTime(p.appliedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)

function ApplicationForm() {
  const { t } = useTranslation()
  const [form, setForm] = useState({
    title: '',
    organisation: '',
    investigator: '',
    purpose: 'research',
    summary: '',
    items: '',
    cohort: '',
    from: '',
    to: '',
    security: '',
  })
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [key]: e.target.value })
  const apply = useAction(async () => {
    const r = await post<{ project: Project }>('/api/portal/v1/projects', {
      title: form.title,
      organisation: form.organisation,
      investigator: form.investigator,
      purpose: form.purpose,
      kind: 'anonymized',
      summary: form.summary,
      items: lines(form.items),
      cohort: form.cohort,
      period: { from: form.from, to: form.to },
      security: lines(form.security),
    })
    navigate(`/projects/${r.project.code}`)
  })
  const submit = (event: FormEvent) => {
    event.preventDefault()
    void apply.run()
  }
  return (
    <>
      <PageTitle>{t('projects.applyTitle')}</PageTitle>
      <p>{t('projects.applyIntro')}</p>
      <form onSubmit={submit} className="form">
        <TextField label={t('projects.titleField')} value={form.title} onChange={set('title')} required />
        <TextField
          label={t('projects.organisation')}
          value={form.organisation}
          onChange={set('organisation')}
          required
        />
        <TextField
          label={t('projects.investigator')}
          value={form.investigator}
          onChange={set('investigator')}
          required
        />
        <fieldset>
          <legend>{t('projects.purpose')}</legend>
          {(['research', 'administration'] as const).map((p) => (
            <label key={p} className="choice">
              <input
                type="radio"
                name="purpose"
                value={p}
                checked={form.purpose === p}
                onChange={set('purpose')}
              />{' '}
              {t(`projects.purposes.${p}`)}
            </label>
          ))}
        </fieldset>
        <Field label={t('projects.summary')}>
          {(props) => <textarea {...props} rows={3} value={form.summary} onChange={set('summary')} />}
        </Field>
        <Field label={t('projects.items')} hint={t('projects.onePerLine')}>
          {(props) => <textarea {...props} rows={4} value={form.items} onChange={set('items')} required />}
        </Field>
        <TextField label={t('projects.cohort')} value={form.cohort} onChange={set('cohort')} required />
        <div className="row">
          <TextField
            label={t('projects.from')}
            type="date"
            value={form.from}
            onChange={set('from')}
            required
          />
          <TextField label={t('projects.to')} type="date" value={form.to} onChange={set('to')} required />
        </div>
        <Field label={t('projects.security')} hint={t('projects.onePerLine')}>
          {(props) => (
            <textarea {...props} rows={4} value={form.security} onChange={set('security')} required />
          )}
        </Field>
        <ErrorMessage error={apply.error} />
        <button type="submit" className="primary" disabled={apply.busy}>
          {t('projects.submitApplication')}
        </button>
      </form>
    </>
  )
}

function ProjectPage({ code }: { code: string }) {
  const { t } = useTranslation()
  const fmt = useFormat()
  const session = useSession()
  const { data, error, loading, reload } = useLoad(
    (signal) => get<{ project: Project }>(`/api/portal/v1/projects/${code}`, signal),
    [code],
  )
  const p = data?.project
  return (
    <>
      <PageTitle>{p ? `${p.code} ${p.title}` : code}</PageTitle>
      <Loading when={loading && !data} />
      <ErrorMessage error={error} />
      {p ? (
        <>
          <dl className="facts">
            <dt>{t('projects.state')}</dt>
            <dd>
              <ProjectState state={p.state} />
            </dd>
            <dt>{t('projects.organisation')}</dt>
            <dd>{p.organisation}</dd>
            <dt>{t('projects.investigator')}</dt>
            <dd>{p.investigator}</dd>
            <dt>{t('projects.purpose')}</dt>
            <dd>{t(`projects.purposes.${p.purpose}`)}</dd>
            <dt>{t('projects.version')}</dt>
            <dd>{p.version}</dd>
            <dt>{t('projects.appliedAt')}</dt>
            <dd>
              {fmt.dateTime(p.appliedAt)} ({p.appliedBy})
            </dd>
            <dt>{t('projects.period')}</dt>
            <dd>
              {p.application.period.from} – {p.application.period.to}
            </dd>
            <dt>{t('projects.cohort')}</dt>
            <dd>{p.application.cohort}</dd>
          </dl>
          {p.application.summary ? <p>{p.application.summary}</p> : null}
          <div className="row">
            <section>
              <h2>{t('projects.items')}</h2>
              <ul>
                {p.application.items.map((i) => (
                  <li key={i}>{i}</li>
                ))}
              </ul>
            </section>
            <section>
              <h2>{t('projects.security')}</h2>
              <ul>
                {p.application.security.map((i) => (
                  <li key={i}>{i}</li>
                ))}
              </ul>
            </section>
          </div>
          <Reviews project={p} onChange={reload} canReview={session.has('reviewer')} />
          <ContractSection project={p} onChange={reload} canSign={session.has('admin')} />
          {session.has('admin', 'anonymization_engineer') && p.contract?.state === 'active' ? (
            <p>
              <Link to={`/releases/new?project=${p.code}`} className="button">
                {t('releases.buildFor', { code: p.code })}
              </Link>
            </p>
          ) : null}
        </>
      ) : null}
    </>
  )
}

function Reviews({
  project,
  onChange,
  canReview,
}: {
  project: Project
  onChange: () => void
  canReview: boolean
}) {
  const { t } = useTranslation()
  const fmt = useFormat()
  const session = useSession()
  const [decision, setDecision] = useState<'approve' | 'reject'>('approve')
  const [comment, setComment] = useState('')
  const [code, setCode] = useState('')
  const [done, setDone] = useState<string>()
  const review = useAction(async () => {
    const r = await post<{ project: Project }>(`/api/portal/v1/projects/${project.code}/reviews`, {
      decision,
      ...(comment ? { comment } : {}),
      code,
    })
    setDone(t('projects.reviewRecorded', { state: t(`projects.states.${r.project.state}`) }))
    setCode('')
    setComment('')
    onChange()
  })
  const current = project.reviews.filter((r) => r.version === project.version)
  const approvals = current.filter((r) => r.decision === 'approve').length
  const mine = current.some((r) => r.reviewer.endsWith(`:${session.account?.username.toLowerCase()}`))
  const submit = (event: FormEvent) => {
    event.preventDefault()
    void review.run()
  }
  return (
    <section aria-labelledby="reviews">
      <h2 id="reviews">{t('projects.reviews')}</h2>
      <p>
        {t('projects.approvalsOf', {
          n: approvals,
          needed: project.approvalsNeeded,
          version: project.version,
        })}
      </p>
      {project.reviews.length > 0 ? (
        <table>
          <Head
            columns={[
              t('projects.version'),
              t('projects.reviewer'),
              t('projects.decision'),
              t('projects.comment'),
              t('projects.at'),
            ]}
          />
          <tbody>
            {project.reviews.map((r) => (
              <tr key={`${r.version}-${r.reviewer}`}>
                <td className="num">{r.version}</td>
                <td>{r.reviewer}</td>
                <td>
                  <Badge tone={r.decision === 'approve' ? 'ok' : 'bad'}>
                    {t(`projects.decisions.${r.decision}`)}
                  </Badge>
                </td>
                <td>{r.comment}</td>
                <td>{fmt.dateTime(r.at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {done ? <Notice>{done}</Notice> : null}
      {canReview && project.state === 'submitted' && !mine ? (
        <form onSubmit={submit} className="form" aria-labelledby="review-form">
          <h3 id="review-form">{t('projects.yourReview')}</h3>
          <fieldset>
            <legend>{t('projects.decision')}</legend>
            {(['approve', 'reject'] as const).map((d) => (
              <label key={d} className="choice">
                <input
                  type="radio"
                  name="decision"
                  value={d}
                  checked={decision === d}
                  onChange={() => setDecision(d)}
                />{' '}
                {t(`projects.decisions.${d}`)}
              </label>
            ))}
          </fieldset>
          <Field label={t('projects.comment')}>
            {(props) => (
              <textarea {...props} rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
            )}
          </Field>
          <CodeField value={code} onChange={setCode} />
          <ErrorMessage error={review.error} />
          <button type="submit" className="primary" disabled={review.busy}>
            {t('projects.recordReview')}
          </button>
        </form>
      ) : null}
    </section>
  )
}

function ContractSection({
  project,
  onChange,
  canSign,
}: {
  project: Project
  onChange: () => void
  canSign: boolean
}) {
  const c = project.contract
  if (c) return <ContractView contract={c} />
  if (!canSign || project.state !== 'approved') return null
  return <ContractForm project={project} onSigned={onChange} />
}

export function ContractView({ contract: c }: { contract: Contract }) {
  const { t } = useTranslation()
  return (
    <section aria-labelledby="contract">
      <h2 id="contract">
        {t('projects.contract')} <span className="code">{c.code}</span>{' '}
        <Badge tone={c.state === 'active' ? 'ok' : 'warn'}>
          {t(`projects.contractStates.${c.state}`, { defaultValue: c.state })}
        </Badge>
      </h2>
      <dl className="facts">
        <dt>{t('projects.recipients')}</dt>
        <dd>
          <ul className="plain">
            {c.recipients.map((r) => (
              <li key={r.name}>
                {r.name}（{r.organisation}）{r.keyId ? <span className="muted code"> {r.keyId}</span> : null}
              </li>
            ))}
          </ul>
        </dd>
        <dt>{t('projects.purposesField')}</dt>
        <dd>{c.purposes.join('、')}</dd>
        <dt>{t('projects.sharing')}</dt>
        <dd>{c.sharing}</dd>
        <dt>{t('projects.bans')}</dt>
        <dd>{c.bans.map((b) => t(`projects.banNames.${b}`, { defaultValue: b })).join('、')}</dd>
        <dt>{t('projects.term')}</dt>
        <dd>
          {c.starts} – {c.ends}
        </dd>
        <dt>{t('projects.destroyBy')}</dt>
        <dd>{c.destroyBy}</dd>
        <dt>{t('projects.publicationCheck')}</dt>
        <dd>{c.publicationCheck ? t('common.yes') : t('common.no')}</dd>
      </dl>
    </section>
  )
}

function ContractForm({ project, onSigned }: { project: Project; onSigned: () => void }) {
  const { t } = useTranslation()
  const [form, setForm] = useState({
    name: '',
    organisation: project.organisation,
    publicKey: '',
    purposes: project.title,
    sharing: '',
    starts: '',
    ends: '',
    destroyBy: '',
  })
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [key]: e.target.value })
  const sign = useAction(async () => {
    await post(`/api/portal/v1/projects/${project.code}/contract`, {
      recipients: [{ name: form.name, organisation: form.organisation, publicKey: form.publicKey }],
      purposes: lines(form.purposes),
      sharing: form.sharing,
      starts: form.starts,
      ends: form.ends,
      destroyBy: form.destroyBy,
      publicationCheck: true,
    })
    onSigned()
  })
  const submit = (event: FormEvent) => {
    event.preventDefault()
    void sign.run()
  }
  return (
    <form onSubmit={submit} className="form" aria-labelledby="contract-form">
      <h2 id="contract-form">{t('projects.signContract')}</h2>
      <p className="muted">{t('projects.bansAlways')}</p>
      <TextField label={t('projects.recipientName')} value={form.name} onChange={set('name')} required />
      <TextField
        label={t('projects.recipientOrganisation')}
        value={form.organisation}
        onChange={set('organisation')}
        required
      />
      <Field label={t('projects.recipientKey')} hint={t('projects.recipientKeyHint')}>
        {(props) => (
          <textarea
            {...props}
            rows={4}
            className="code"
            value={form.publicKey}
            onChange={set('publicKey')}
            required
          />
        )}
      </Field>
      <Field label={t('projects.purposesField')} hint={t('projects.onePerLine')}>
        {(props) => (
          <textarea {...props} rows={2} value={form.purposes} onChange={set('purposes')} required />
        )}
      </Field>
      <TextField label={t('projects.sharing')} value={form.sharing} onChange={set('sharing')} required />
      <div className="row">
        <TextField
          label={t('projects.starts')}
          type="date"
          value={form.starts}
          onChange={set('starts')}
          required
        />
        <TextField label={t('projects.ends')} type="date" value={form.ends} onChange={set('ends')} required />
        <TextField
          label={t('projects.destroyBy')}
          type="date"
          value={form.destroyBy}
          onChange={set('destroyBy')}
          required
        />
      </div>
      <ErrorMessage error={sign.error} />
      <button type="submit" className="primary" disabled={sign.busy}>
        {t('projects.sign')}
      </button>
    </form>
  )
}
