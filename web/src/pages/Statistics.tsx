import { type FormEvent, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { get, post } from '../api'
import type { Route } from '../router'
import { ErrorMessage, JobProgress, PageTitle, TextField, useAction, useLoad } from '../ui'
import type { Project } from './Projects'
import { ProjectSelect, useJob } from './Releases'

const DIMENSIONS = [
  'age_band',
  'age_band_5',
  'sex',
  'prefecture',
  'region',
  'municipality',
  'year_of_birth_decade',
] as const
const SUPPRESSED = 'x'

const list = (text: string) =>
  text
    .split(/[,、\s]+/)
    .map((s) => s.trim())
    .filter(Boolean)

/** 集計: a query builder, and the table with its suppressed cells marked (primary and secondary alike). */
export function StatisticsPage({ route }: { route: Route }) {
  const { t } = useTranslation()
  const projects = useLoad((signal) => get<{ projects: Project[] }>('/api/portal/v1/projects', signal), [])
  const [project, setProject] = useState(route.query.get('project') ?? '')
  const [dimensions, setDimensions] = useState<string[]>(['age_band', 'sex'])
  const [measure, setMeasure] = useState<'count' | 'sum' | 'mean'>('count')
  const [lab, setLab] = useState('')
  const [conditions, setConditions] = useState('')
  const [drugs, setDrugs] = useState('')
  const [from, setFrom] = useState('')
  const [to, setTo] = useState('')
  const [threshold, setThreshold] = useState(10)
  const [rounding, setRounding] = useState('')
  const [jobId, setJobId] = useState<number>()
  const { job, error: jobError } = useJob(jobId)
  const contracted = (projects.data?.projects ?? []).filter((p) => p.contract?.state === 'active')

  const ask = useAction(async () => {
    const filters: Record<string, unknown> = {}
    if (list(conditions).length) filters.conditions = list(conditions)
    if (list(drugs).length) filters.drugs = list(drugs)
    if (from) filters.from = from
    if (to) filters.to = to
    const r = await post<{ job: number }>(`/api/portal/v1/projects/${project}/statistics`, {
      query: {
        dimensions,
        measure: measure === 'count' ? 'count' : { [measure]: { lab } },
        filters,
        threshold,
        ...(rounding ? { rounding: Number(rounding) } : {}),
      },
    })
    setJobId(r.job)
  })
  const submit = (event: FormEvent) => {
    event.preventDefault()
    void ask.run()
  }
  const toggle = (d: string) =>
    setDimensions((current) =>
      current.includes(d) ? current.filter((x) => x !== d) : [...current, d].slice(0, 4),
    )
  const result =
    job?.status === 'done'
      ? (job.result as {
          header: string[]
          rows: string[][]
          cohort: number
          primary: number
          secondary: number
          id: string
        })
      : undefined
  return (
    <>
      <PageTitle>{t('statistics.title')}</PageTitle>
      <form onSubmit={submit} className="form wide">
        <ErrorMessage error={projects.error} />
        <ProjectSelect projects={contracted} value={project} onChange={setProject} />
        <fieldset>
          <legend>{t('statistics.dimensions')}</legend>
          {DIMENSIONS.map((d) => (
            <label key={d} className="choice">
              <input type="checkbox" checked={dimensions.includes(d)} onChange={() => toggle(d)} />{' '}
              {t(`statistics.dims.${d}`)}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>{t('statistics.measure')}</legend>
          {(['count', 'sum', 'mean'] as const).map((m) => (
            <label key={m} className="choice">
              <input type="radio" name="measure" checked={measure === m} onChange={() => setMeasure(m)} />{' '}
              {t(`statistics.measures.${m}`)}
            </label>
          ))}
          {measure !== 'count' ? (
            <TextField
              label={t('statistics.lab')}
              value={lab}
              onChange={(e) => setLab(e.target.value)}
              required
            />
          ) : null}
        </fieldset>
        <div className="row">
          <TextField
            label={t('statistics.conditions')}
            hint={t('statistics.codesHint')}
            value={conditions}
            onChange={(e) => setConditions(e.target.value)}
          />
          <TextField
            label={t('statistics.drugs')}
            hint={t('statistics.codesHint')}
            value={drugs}
            onChange={(e) => setDrugs(e.target.value)}
          />
        </div>
        <div className="row">
          <TextField
            label={t('projects.from')}
            type="date"
            value={from}
            onChange={(e) => setFrom(e.target.value)}
          />
          <TextField
            label={t('projects.to')}
            type="date"
            value={to}
            onChange={(e) => setTo(e.target.value)}
          />
          <TextField
            label={t('statistics.threshold')}
            type="number"
            min={2}
            max={100}
            value={threshold}
            onChange={(e) => setThreshold(Number(e.target.value))}
          />
          <TextField
            label={t('statistics.rounding')}
            type="number"
            min={2}
            max={100}
            value={rounding}
            onChange={(e) => setRounding(e.target.value)}
          />
        </div>
        <ErrorMessage error={ask.error} />
        <button type="submit" className="primary" disabled={ask.busy || !project || dimensions.length === 0}>
          {t('statistics.run')}
        </button>
      </form>
      {job ? <JobProgress status={job.status} progress={job.progress} /> : null}
      {job?.status === 'failed' ? (
        <p className="error" role="alert">
          {job.error}
        </p>
      ) : null}
      <ErrorMessage error={jobError} />
      {result ? (
        <section aria-labelledby="result">
          <h2 id="result">{t('statistics.result', { id: result.id })}</h2>
          <p>
            {t('statistics.summary', {
              cohort: result.cohort,
              primary: result.primary,
              secondary: result.secondary,
            })}
          </p>
          <p className="muted">{t('statistics.legend')}</p>
          <table className="stats">
            <thead>
              <tr>
                {result.header.map((h) => (
                  <th key={h} scope="col">
                    {t(`statistics.dims.${h}`, {
                      defaultValue: t(`statistics.columns.${h}`, { defaultValue: h }),
                    })}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {result.rows.map((row) => (
                <tr key={row.join('\u0000')}>
                  {row.map((cell, i) =>
                    cell === SUPPRESSED ? (
                      <td key={result.header[i]} className="suppressed num">
                        <span aria-hidden="true">x</span>
                        <span className="sr-only">{t('statistics.suppressed')}</span>
                      </td>
                    ) : (
                      <td key={result.header[i]} className={i >= dimensions.length ? 'num' : undefined}>
                        {cell}
                      </td>
                    ),
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </>
  )
}
