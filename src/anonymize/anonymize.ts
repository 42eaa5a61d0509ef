import { createHash } from 'node:crypto'
import { TokumeiError } from '../model/index.js'
import { readArxHierarchy } from './hierarchy/arx.js'
import {
  ageBands,
  areaLevels,
  dateLevels,
  icd10Levels,
  intervalLevels,
  municipalityLevels,
  postalLevels,
} from './hierarchy/builtin.js'
import { generatedHierarchy, type Hierarchy, suppressionHierarchy } from './hierarchy/hierarchy.js'
import {
  type ClosenessModel,
  type DiversityModel,
  entropyOf,
  equalDistance,
  hierarchicalDistance,
  hierarchicalScratch,
  type PrivacyModel,
  type SensitiveModel,
} from './model/privacy.js'
import { type ColumnPolicy, hierarchyPath, type Policy } from './policy/policy.js'
import { assessRisk, type RiskReport } from './risk/risk.js'
import type { Histograms } from './search/classes.js'
import type { MetricName } from './search/metric.js'
import { type SearchResult, searchOptimal } from './search/search.js'
import { type Column, encodeColumn, Table } from './table.js'
import {
  bottomCode,
  pseudonymizeColumn,
  roundTo,
  shiftDates,
  suppressRare,
  topCode,
} from './transform/transform.js'

/**
 * One table through a policy: the columns' transforms, the optimal generalization of the
 * quasi-identifiers under the privacy model, suppression of the records left in failing classes,
 * and the report — the five measures of the anonymization standard (匿名加工基準) with their
 * evidence, the model reached, and the risk that remains. Pure: the caller reads and writes files.
 */
export interface AnonymizeOptions {
  /** The release key: pseudonyms and date offsets derive from it (32 bytes). */
  readonly key: Uint8Array
  /** Name of the input, for the report. */
  readonly source?: string
  /** Progress of the search, for long runs. */
  readonly onProgress?: (message: string) => void
}

export type ColumnAction = 'drop' | 'keep' | 'pseudonymize' | 'generalize'

export interface ColumnReport {
  readonly column: string
  readonly role: ColumnPolicy['role']
  readonly kind?: string
  readonly action: ColumnAction
  readonly dateShift?: boolean
  readonly coding?: readonly string[]
  readonly rare?: { readonly min: number; readonly values: number; readonly records: number }
  readonly hierarchy?: { readonly source: string; readonly level: number; readonly height: number }
}

export interface StatutoryMeasure {
  readonly id: 1 | 2 | 3 | 4 | 5
  readonly title: string
  readonly titleJa: string
  readonly columns: readonly string[]
  readonly evidence: string
  readonly satisfied: boolean
}

export interface AnonymizationReport {
  readonly engine: { readonly name: 'tokumei'; readonly search: 'optimal full-domain generalization' }
  readonly input: { readonly source?: string; readonly rows: number; readonly columns: number }
  readonly output: { readonly rows: number; readonly columns: readonly string[] }
  readonly policySha256: string
  readonly summary: {
    readonly k: number
    readonly levels: Readonly<Record<string, number>>
    readonly suppressed: number
    readonly classes: number
    readonly metric: MetricName
    readonly informationLoss: number
  }
  readonly privacy: {
    readonly k: { readonly required: number; readonly achieved: number }
    readonly suppression: { readonly limit: number; readonly maxRecords: number; readonly records: number }
    readonly sensitive: ReadonlyArray<{
      readonly column: string
      readonly diversity?: DiversityModel & { readonly achieved: number }
      readonly closeness?: ClosenessModel & {
        readonly achieved: number
        /** The reference distribution (every value's share among the input's records). */
        readonly reference: Readonly<Record<string, number>>
      }
    }>
  }
  readonly search: {
    readonly latticeSize: number
    readonly checked: number
    readonly monotone: boolean
    readonly distinctTuples: number
    readonly milliseconds: number
    readonly informationLossByAttribute?: Readonly<Record<string, number>>
  }
  readonly columns: readonly ColumnReport[]
  readonly risk: RiskReport
  readonly measures: readonly StatutoryMeasure[]
}

export interface AnonymizeResult {
  readonly output: Table
  readonly report: AnonymizationReport
}

function hierarchyFor(
  policy: Policy,
  name: string,
  column: Column,
  spec: ColumnPolicy['hierarchy'],
): Hierarchy {
  if (spec === undefined) return suppressionHierarchy(column)
  if (typeof spec === 'string') return readArxHierarchy(hierarchyPath(policy, spec), column, undefined, spec)
  const source = `builtin:${spec.builtin}`
  switch (spec.builtin) {
    case 'age':
      return generatedHierarchy(column, source, ageBands({ bands: spec.bands, top: spec.top }))
    case 'date':
      return generatedHierarchy(column, source, dateLevels())
    case 'municipality':
      return generatedHierarchy(column, source, municipalityLevels())
    case 'area':
      return generatedHierarchy(column, source, areaLevels())
    case 'postal':
      return generatedHierarchy(column, source, postalLevels())
    case 'icd10':
      return generatedHierarchy(column, source, icd10Levels())
    case 'interval':
      return generatedHierarchy(column, source, intervalLevels(spec))
    case 'suppress':
      return suppressionHierarchy(column)
    default:
      throw new Error(`Unknown built-in hierarchy for ${name}.`)
  }
}

export async function anonymizeTable(
  table: Table,
  policy: Policy,
  options: AnonymizeOptions,
): Promise<AnonymizeResult> {
  const started = performance.now()
  for (const name of Object.keys(policy.columns))
    if (!table.column(name))
      throw new TokumeiError(`The policy names the column ${name}, which the input does not have.`, {
        code: 'anonymize.column_missing',
        kind: 'invalid',
        details: { column: name },
      })
  // A column the policy does not mention is an error, not a silent pass: it could identify.
  for (const name of table.names)
    if (!(name in policy.columns))
      throw new TokumeiError(
        `The input's column ${name} has no role in the policy: give it one (insensitive to keep it as it is).`,
        { code: 'anonymize.column_unplanned', kind: 'invalid', details: { column: name } },
      )
  const personColumn = policy.person === undefined ? undefined : (table.column(policy.person) as Column)

  // 1. Each column's own transforms.
  const reports: ColumnReport[] = []
  const transformed = new Map<string, Column>()
  for (const original of table.columns) {
    const spec = policy.columns[original.name] as ColumnPolicy
    const dropped =
      spec.type === 'free-text' ||
      spec.transform === 'drop' ||
      (spec.role === 'identifying' && spec.transform !== 'pseudonymize')
    const action: ColumnAction = dropped
      ? 'drop'
      : spec.transform === 'pseudonymize'
        ? 'pseudonymize'
        : spec.role === 'quasi-identifying'
          ? 'generalize'
          : 'keep'
    let column = original
    const coding: string[] = []
    let rare: ColumnReport['rare']
    if (!dropped) {
      if (spec.transform === 'date-shift')
        column = shiftDates(column, personColumn as Column, options.key, policy['date-shift'].days)
      if (spec['top-code'] !== undefined) {
        column = topCode(column, spec['top-code'])
        coding.push(`top-coded at ${spec['top-code']}`)
      }
      if (spec['bottom-code'] !== undefined) {
        column = bottomCode(column, spec['bottom-code'])
        coding.push(`bottom-coded at ${spec['bottom-code']}`)
      }
      if (spec.round !== undefined) {
        column = roundTo(column, spec.round)
        coding.push(`rounded to ${spec.round}`)
      }
      if (spec.rare !== undefined) {
        const suppressed = suppressRare(column, spec.rare, personColumn?.codes)
        column = suppressed.column
        rare = { min: spec.rare, values: suppressed.values, records: suppressed.records }
      }
      if (action === 'pseudonymize') column = pseudonymizeColumn(column, options.key)
    }
    transformed.set(original.name, column)
    reports.push({
      column: original.name,
      role: spec.role,
      kind: spec.role === 'identifying' ? (spec.kind ?? 'description') : undefined,
      action,
      dateShift: spec.transform === 'date-shift' || undefined,
      coding: coding.length > 0 ? coding : undefined,
      rare,
    })
  }

  // 2. The quasi-identifiers' hierarchies and the sensitive attributes' models.
  const qiNames = table.names.filter((n) => (policy.columns[n] as ColumnPolicy).role === 'quasi-identifying')
  const hierarchies = qiNames.map((n) =>
    hierarchyFor(policy, n, transformed.get(n) as Column, (policy.columns[n] as ColumnPolicy).hierarchy),
  )
  const sensitiveNames = table.names.filter((n) => {
    const spec = policy.columns[n] as ColumnPolicy
    return (
      spec.role === 'sensitive' &&
      (spec['l-diversity'] ??
        policy.privacy['l-diversity'] ??
        spec['t-closeness'] ??
        policy.privacy['t-closeness'])
    )
  })
  const sensitive: SensitiveModel[] = sensitiveNames.map((n) => {
    const spec = policy.columns[n] as ColumnPolicy
    const column = transformed.get(n) as Column
    const overall = new Float64Array(column.dictionary.length)
    for (const code of column.codes) overall[code] = (overall[code] as number) + 1
    for (let v = 0; v < overall.length; v++)
      overall[v] = (overall[v] as number) / Math.max(column.codes.length, 1)
    const closeness = spec['t-closeness'] ?? policy.privacy['t-closeness']
    return {
      column: n,
      values: column.dictionary.length,
      overall,
      diversity: spec['l-diversity'] ?? policy.privacy['l-diversity'],
      closeness,
      hierarchy:
        closeness?.distance === 'hierarchical' ? hierarchyFor(policy, n, column, spec.hierarchy) : undefined,
    }
  })
  const model: PrivacyModel = { k: policy.privacy.k, sensitive }
  const maxSuppressed = Math.floor(policy.privacy.suppression * table.rows + 1e-9)

  // 3. The search.
  const result: SearchResult = await searchOptimal({
    rows: table.rows,
    hierarchies,
    qi: qiNames.map((n) => (transformed.get(n) as Column).codes),
    sensitive: sensitiveNames.map((n) => (transformed.get(n) as Column).codes),
    model,
    maxSuppressed,
    metric: policy.metric as MetricName,
    onProgress: options.onProgress
      ? (checked, lattice) =>
          options.onProgress?.(`searching: ${checked} of ${lattice} generalizations checked`)
      : undefined,
  })

  // 4. The output: kept columns in the input's order, quasi-identifiers at their chosen levels,
  // records of failing classes removed.
  const keep = new Uint8Array(table.rows)
  for (let r = 0; r < table.rows; r++) keep[r] = result.failing[result.rowClass[r] as number] ? 0 : 1
  const outputColumns: Column[] = []
  for (const report of reports) {
    if (report.action === 'drop') continue
    let column = transformed.get(report.column) as Column
    const q = qiNames.indexOf(report.column)
    if (q >= 0) {
      const hierarchy = hierarchies[q] as Hierarchy
      const level = result.levels[q] as number
      const labels = hierarchy.labels[level] as readonly string[]
      const map = hierarchy.map[level] as Int32Array
      column = encodeColumn(
        column.name,
        Array.from(column.codes, (code) => labels[map[code] as number] as string),
      )
    }
    outputColumns.push(column)
  }
  const output = new Table(outputColumns, table.rows).filter(keep)
  reports.forEach((r, i) => {
    const q = qiNames.indexOf(r.column)
    if (q >= 0) {
      const h = hierarchies[q] as Hierarchy
      reports[i] = {
        ...r,
        hierarchy: { source: h.source, level: result.levels[q] as number, height: h.height },
      }
    }
  })

  // 5. What the result achieves, measured on the kept classes.
  const keptSizes: number[] = []
  for (let c = 0; c < result.classes.size; c++)
    if (!result.failing[c]) keptSizes.push(result.classes.counts[c] as number)
  const achievedK = keptSizes.length === 0 ? 0 : Math.min(...keptSizes)
  const sensitiveReports = sensitive.map((s, i) =>
    achievedSensitive(s, result, i, (transformed.get(s.column) as Column).dictionary),
  )
  const risk = assessRisk(keptSizes, { threshold: policy.risk.threshold, population: policy.risk.population })
  const levels = Object.fromEntries(qiNames.map((n, q) => [n, result.levels[q] as number]))
  const report: AnonymizationReport = {
    engine: { name: 'tokumei', search: 'optimal full-domain generalization' },
    input: { source: options.source, rows: table.rows, columns: table.columns.length },
    output: { rows: output.rows, columns: output.names },
    policySha256: createHash('sha256').update(policy.text).digest('hex'),
    summary: {
      k: achievedK,
      levels,
      suppressed: result.suppressed,
      classes: keptSizes.length,
      metric: policy.metric as MetricName,
      informationLoss: result.value,
    },
    privacy: {
      k: { required: policy.privacy.k, achieved: achievedK },
      suppression: {
        limit: policy.privacy.suppression,
        maxRecords: maxSuppressed,
        records: result.suppressed,
      },
      sensitive: sensitiveReports,
    },
    search: {
      latticeSize: result.latticeSize,
      checked: result.checked,
      monotone: result.monotone,
      distinctTuples: result.distinctTuples,
      milliseconds: Math.round(performance.now() - started),
      informationLossByAttribute: result.valueByAttribute
        ? Object.fromEntries(qiNames.map((n, q) => [n, result.valueByAttribute?.[q] as number]))
        : undefined,
    },
    columns: reports,
    risk,
    measures: statutoryMeasures(reports, policy, achievedK, result, risk, sensitiveReports),
  }
  return { output, report }
}

/** ℓ and t reached over the kept classes, and the reference distribution used. */
function achievedSensitive(
  s: SensitiveModel,
  result: SearchResult,
  index: number,
  dictionary: readonly string[],
): AnonymizationReport['privacy']['sensitive'][number] {
  const histograms = result.classes.sensitive[index] as Histograms
  const scratch = s.hierarchy ? hierarchicalScratch(s.hierarchy) : undefined
  let minDistinct = Number.POSITIVE_INFINITY
  let minEntropyL = Number.POSITIVE_INFINITY
  let maxDistance = 0
  for (let c = 0; c < result.classes.size; c++) {
    if (result.failing[c]) continue
    const total = result.classes.counts[c] as number
    minDistinct = Math.min(minDistinct, (histograms.start[c + 1] as number) - (histograms.start[c] as number))
    minEntropyL = Math.min(minEntropyL, Math.exp(entropyOf(histograms, c, total)))
    if (s.closeness)
      maxDistance = Math.max(
        maxDistance,
        s.closeness.distance === 'hierarchical' && s.hierarchy && scratch
          ? hierarchicalDistance(histograms, c, total, s.overall, s.hierarchy, scratch)
          : equalDistance(histograms, c, total, s.overall),
      )
  }
  return {
    column: s.column,
    diversity: s.diversity
      ? { ...s.diversity, achieved: s.diversity.variant === 'entropy' ? minEntropyL : minDistinct }
      : undefined,
    closeness: s.closeness
      ? {
          ...s.closeness,
          achieved: maxDistance,
          reference: Object.fromEntries(dictionary.map((v, code) => [v, s.overall[code] as number])),
        }
      : undefined,
  }
}

function statutoryMeasures(
  columns: readonly ColumnReport[],
  policy: Policy,
  k: number,
  result: SearchResult,
  risk: RiskReport,
  sensitive: AnonymizationReport['privacy']['sensitive'],
): StatutoryMeasure[] {
  const identifying = columns.filter((c) => c.role === 'identifying')
  const ofKind = (kind: string) => identifying.filter((c) => c.kind === kind)
  const dropped = (list: readonly ColumnReport[]) =>
    list.filter((c) => c.action === 'drop').map((c) => c.column)
  const descriptions = ofKind('description')
  const codes = ofKind('code')
  const links = ofKind('linking-code')
  const pseudonymized = columns.filter((c) => c.action === 'pseudonymize').map((c) => c.column)
  const coded = columns.filter((c) => c.coding || c.rare)
  const generalized = columns.filter((c) => c.hierarchy && c.hierarchy.level > 0)
  const models = [
    `k-anonymity with k = ${policy.privacy.k} (achieved ${k})`,
    ...sensitive.flatMap((s) => [
      ...(s.diversity
        ? [
            `${s.diversity.variant} ℓ-diversity ℓ = ${s.diversity.l} on ${s.column} (achieved ${round(s.diversity.achieved)})`,
          ]
        : []),
      ...(s.closeness
        ? [
            `t-closeness t = ${s.closeness.t} (${s.closeness.distance} distance) on ${s.column} (achieved ${round(s.closeness.achieved)})`,
          ]
        : []),
    ]),
  ]
  return [
    {
      id: 1,
      title: 'Identifying descriptions removed',
      titleJa: '特定の個人を識別することができる記述等の全部又は一部の削除',
      columns: dropped(descriptions),
      evidence:
        descriptions.length === 0
          ? 'No column is declared an identifying description.'
          : `Dropped: ${dropped(descriptions).join(', ') || 'none'}; kept as pseudonyms: ${
              descriptions
                .filter((c) => c.action === 'pseudonymize')
                .map((c) => c.column)
                .join(', ') || 'none'
            }.`,
      satisfied: descriptions.every((c) => c.action === 'drop'),
    },
    {
      id: 2,
      title: 'Individual identification codes removed',
      titleJa: '個人識別符号の全部の削除',
      columns: dropped(codes),
      evidence:
        codes.length === 0
          ? 'No column is declared an individual identification code.'
          : `Dropped: ${dropped(codes).join(', ')}.`,
      satisfied: codes.every((c) => c.action === 'drop'),
    },
    {
      id: 3,
      title: 'Linking codes removed or replaced irreversibly',
      titleJa: '情報を相互に連結する符号の削除',
      columns: [...dropped(links), ...pseudonymized],
      evidence: `Dropped: ${dropped(links).join(', ') || 'none'}; replaced by keyed-hash pseudonyms (HMAC-SHA-256 under a per-release key that is not released): ${pseudonymized.join(', ') || 'none'}.`,
      satisfied: links.every((c) => c.action === 'drop' || c.action === 'pseudonymize'),
    },
    {
      id: 4,
      title: 'Unique descriptions (rare and extreme values) handled',
      titleJa: '特異な記述等の削除',
      columns: [...new Set([...coded.map((c) => c.column), ...generalized.map((c) => c.column)])],
      evidence: [
        ...coded.map(
          (c) =>
            `${c.column}: ${[...(c.coding ?? []), ...(c.rare ? [`${c.rare.values} value(s) held by fewer than ${c.rare.min} person(s) suppressed (${c.rare.records} record(s))`] : [])].join('; ')}`,
        ),
        ...generalized.map(
          (c) =>
            `${c.column}: generalized to level ${c.hierarchy?.level} of ${c.hierarchy?.height} (${c.hierarchy?.source})`,
        ),
        `${result.suppressed} record(s) in classes below the model suppressed; sample uniques left: ${risk.sampleUniques === 0 ? 'none' : `${(100 * risk.sampleUniques).toFixed(2)} %`}.`,
      ].join(' '),
      satisfied: risk.sampleUniques === 0 || k >= 2,
    },
    {
      id: 5,
      title: 'Measures suited to the data (privacy model and its parameters)',
      titleJa: '医療情報データベース等の性質を勘案したその他の適切な措置',
      columns: columns
        .filter((c) => c.role === 'quasi-identifying' || c.role === 'sensitive')
        .map((c) => c.column),
      evidence: `${models.join('; ')}; record suppression ≤ ${(100 * policy.privacy.suppression).toFixed(2)} %; highest prosecutor risk ${round(risk.prosecutor.highest)}, average ${round(risk.prosecutor.average)}.`,
      satisfied: k >= policy.privacy.k,
    },
  ]
}

const round = (x: number) => Number(x.toPrecision(4))
