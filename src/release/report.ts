import type { AnonymizationReport, Verification } from '../anonymize/index.js'

/**
 * The anonymization report as a readable page (report.html), from the same object as report.json:
 * the five statutory measures (匿名加工基準) with their evidence, the model reached, the risk figures,
 * the class-size histogram, what was generalized or suppressed, and the tables released.
 */
export interface ReleaseReport {
  readonly release: string
  readonly project: string
  readonly contract: string
  readonly built: string
  readonly cohort: {
    readonly linkedPatients: number
    readonly candidates: number
    readonly matched: number
    readonly withheld: number
    readonly released: number
    readonly reference: string
  }
  readonly tables: ReadonlyArray<{
    readonly name: string
    readonly rows: number
    readonly variables: readonly string[]
  }>
  readonly rareValues: { readonly threshold: number; readonly suppressed: Readonly<Record<string, number>> }
  readonly images: { readonly files: number; readonly withheld: number }
  readonly documents: { readonly files: number; readonly spans: number }
  readonly anonymization: AnonymizationReport
  readonly verification: Verification
  readonly stages: ReadonlyArray<{
    readonly stage: string
    readonly milliseconds: number
    readonly rows: number
  }>
}

const html = (value: unknown) =>
  String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  )

const percent = (share: number) => `${(share * 100).toFixed(2)} %`

function table(header: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  return `<table><thead><tr>${header.map((h) => `<th scope="col">${html(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${html(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`
}

export function renderReport(report: ReleaseReport): string {
  const a = report.anonymization
  const maxRecords = Math.max(1, ...a.risk.histogram.map((h) => h.records))
  const histogram = a.risk.histogram
    .map(
      (h) =>
        `<div class="bar"><span class="label">${html(h.size)}</span><span class="fill" style="width:${((h.records / maxRecords) * 100).toFixed(1)}%"></span><span class="n">${h.classes} classes, ${h.records} persons</span></div>`,
    )
    .join('')
  return `<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>匿名加工報告書 ${html(report.release)}</title>
<style>
body{font-family:system-ui,"Hiragino Sans","Noto Sans JP",sans-serif;margin:2rem auto;max-width:60rem;line-height:1.5;color:#1a1a1a}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}.ok{color:#0a6a0a}.ng{color:#a00000;font-weight:bold}
.bar{display:flex;align-items:center;gap:.5rem;margin:.15rem 0}.label{width:5rem}.fill{display:inline-block;height:.9rem;background:#3a6ea5;min-width:1px}.n{font-size:.9em}
</style>
</head>
<body>
<h1>匿名加工報告書 / Anonymization report</h1>
${table(
  ['', ''],
  [
    ['Release', report.release],
    ['Project', report.project],
    ['Contract', report.contract],
    ['Built', report.built],
    [
      'Persons released',
      `${report.cohort.released} of ${report.cohort.matched} in the cohort (${report.cohort.withheld} withheld after a refusal)`,
    ],
    ['Ages counted on', report.cohort.reference],
  ],
)}
<h2>匿名加工基準の五つの措置 / The five statutory measures</h2>
${table(
  ['#', 'Measure', 'Columns', 'Evidence', 'Met'],
  a.measures.map((m) => [
    m.id,
    `${m.titleJa} — ${m.title}`,
    m.columns.join(', ') || '—',
    m.evidence,
    m.satisfied ? 'yes' : 'NO',
  ]),
)}
<h2>Privacy model</h2>
${table(
  ['', 'required', 'achieved'],
  [
    ['k-anonymity (persons)', a.privacy.k.required, a.privacy.k.achieved],
    ['persons suppressed', `≤ ${a.privacy.suppression.maxRecords}`, a.privacy.suppression.records],
    ...a.privacy.sensitive.flatMap((s) => [
      ...(s.diversity ? [[`ℓ-diversity of ${s.column}`, s.diversity.l, s.diversity.achieved]] : []),
      ...(s.closeness
        ? [[`t-closeness of ${s.column}`, s.closeness.t, s.closeness.achieved.toFixed(3)]]
        : []),
    ]),
  ],
)}
<p>Generalization levels: ${html(
    Object.entries(a.summary.levels)
      .map(([c, l]) => `${c} ${l}`)
      .join(', ') || 'none',
  )}; information loss ${a.summary.informationLoss.toFixed(4)} (${html(a.summary.metric)}).</p>
<h2>Re-identification risk</h2>
${table(
  ['attacker', 'highest', 'average', 'persons above the threshold'],
  [
    [
      'prosecutor',
      percent(a.risk.prosecutor.highest),
      percent(a.risk.prosecutor.average),
      percent(a.risk.prosecutor.recordsAtRisk),
    ],
    [
      'journalist',
      percent(a.risk.journalist.highest),
      percent(a.risk.journalist.average),
      percent(a.risk.journalist.recordsAtRisk),
    ],
    ['marketer', '', percent(a.risk.marketer), ''],
  ],
)}
<h3>Equivalence-class sizes</h3>
${histogram}
<h2>Columns</h2>
${table(
  ['column', 'role', 'action', 'detail'],
  a.columns.map((c) => [
    c.column,
    c.role,
    c.action,
    [
      c.hierarchy ? `level ${c.hierarchy.level} of ${c.hierarchy.height} (${c.hierarchy.source})` : '',
      ...(c.coding ?? []),
    ]
      .filter(Boolean)
      .join('; '),
  ]),
)}
<h2>Tables released</h2>
${table(
  ['table', 'rows', 'variables'],
  report.tables.map((t) => [t.name, t.rows, t.variables.join(', ')]),
)}
<p>Values held by fewer than ${report.rareValues.threshold} persons replaced by *: ${html(
    Object.entries(report.rareValues.suppressed)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ') || 'none',
  )}. Images: ${report.images.files} de-identified, ${report.images.withheld} withheld. Documents: ${report.documents.files} scrubbed (${report.documents.spans} identifiers replaced).</p>
<h2>Independent verification</h2>
${table(
  ['check', 'result', 'detail'],
  report.verification.checks.map((c) => [c.name, c.ok ? 'passed' : 'FAILED', c.detail]),
)}
<h2>Build stages</h2>
${table(
  ['stage', 'rows', 'ms'],
  report.stages.map((s) => [s.stage, s.rows, s.milliseconds]),
)}
</body>
</html>
`
}
