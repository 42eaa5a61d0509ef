import { randomBytes } from 'node:crypto'
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkDocument } from '../anonymize/index.js'
import { isTokumeiError, TokumeiError } from '../model/index.js'
import { recordAuditEvent } from '../security/index.js'
import {
  answerQuery,
  QUERY_SCHEMA,
  querySha256,
  queryShape,
  refuseDifferencing,
  type StatsAnswer,
  type StatsQuery,
  TOTAL_LABEL,
} from '../stats/index.js'
import { TOKUMEI_VERSION } from '../version.js'
import type { BuildContext } from './build.js'
import { activeContract } from './governance.js'
import { listFiles, type Manifest, signManifest, type TableData, writeCsv, writeParquet } from './package.js'

/**
 * Statistics leave the agency as a release does: a signed package (table.csv and .parquet, the
 * disclosure-control report, the data dictionary, the manifest) recorded under the project's
 * contract. Every query is recorded and audited, answered or refused.
 */
export interface StatisticsResult {
  readonly id: string
  readonly dir: string
  readonly cohort: number
  readonly cells: number
  readonly primary: number
  readonly secondary: number
  readonly header: readonly string[]
  readonly rows: readonly (readonly string[])[]
}

export function parseQuery(data: unknown, source: string): StatsQuery {
  const query = checkDocument(QUERY_SCHEMA, data, source, 'stats.bad_query')
  return { ...query, sha256: querySha256(query) }
}

export async function buildStatistics(context: BuildContext, query: StatsQuery): Promise<StatisticsResult> {
  const contract = await activeContract(context.db, query.project)
  const record = async (
    outcome: 'answered' | 'refused',
    cohort: number,
    reason?: string,
    release?: string,
  ) => {
    const { sha256: _sha, ...stored } = query
    await context.db
      .insertInto('governance.stats_query')
      .values({
        actor: context.actor,
        project_id: contract.projectId,
        query: JSON.stringify(stored),
        shape: queryShape(query),
        cohort,
        outcome,
        reason: reason ?? null,
        release_id: release ?? null,
      })
      .execute()
    await recordAuditEvent(context.db, context.keyring, {
      actor: context.actor,
      action: outcome === 'answered' ? 'stats.answered' : 'stats.refused',
      target: `project:${query.project}`,
      outcome: outcome === 'answered' ? 'ok' : 'denied',
      detail: {
        query: query.sha256.slice(0, 16),
        dimensions: query.dimensions.join(','),
        release: release ?? null,
      },
    })
  }
  const answer = await answerQuery(context.db, query, context.today)
  try {
    await refuseDifferencing(context.db, contract.projectId, query, answer.persons, context.today)
    if (!answer.disclosure.protected)
      throw new TokumeiError(
        'Refused: disclosure control could not protect every suppressed cell of this table; ask for fewer or coarser dimensions.',
        { code: 'stats.unprotectable', kind: 'forbidden' },
      )
  } catch (error) {
    if (isTokumeiError(error)) await record('refused', answer.cohort, error.code)
    throw error
  }

  const today = context.today ?? new Date()
  const id = `R-${today.toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`
  await context.db
    .insertInto('governance.release')
    .values({
      id,
      kind: 'statistics',
      project_id: contract.projectId,
      contract_id: contract.contractId,
      spec: JSON.stringify(query),
      spec_sha256: query.sha256,
      built_by: context.actor,
    })
    .execute()
  const final = join(context.releasesDir, id)
  const partial = `${final}.partial`
  try {
    mkdirSync(partial, { recursive: true, mode: 0o700 })
    const manifest = writeStatisticsPackage(context, partial, id, query, contract, answer)
    renameSync(partial, final)
    await context.db
      .updateTable('governance.release')
      .set({
        state: 'built',
        dir: final,
        manifest: JSON.stringify(manifest),
        persons: answer.cohort,
        finished_at: new Date(),
      })
      .where('id', '=', id)
      .execute()
    await record('answered', answer.cohort, undefined, id)
  } catch (error) {
    rmSync(partial, { recursive: true, force: true })
    await context.db
      .updateTable('governance.release')
      .set({
        state: 'failed',
        error: isTokumeiError(error) ? error.message : 'an internal error',
        finished_at: new Date(),
      })
      .where('id', '=', id)
      .execute()
    throw error
  }
  return {
    id,
    dir: final,
    cohort: answer.cohort,
    cells: answer.rows.length,
    primary: answer.disclosure.primary,
    secondary: answer.disclosure.secondary,
    header: answer.header,
    rows: answer.rows,
  }
}

function writeStatisticsPackage(
  context: BuildContext,
  dir: string,
  id: string,
  query: StatsQuery,
  contract: Awaited<ReturnType<typeof activeContract>>,
  answer: StatsAnswer,
): Manifest {
  const table: TableData = {
    name: 'table',
    header: answer.header,
    types: answer.header.map(() => 'string'),
    rows: answer.rows,
  }
  writeCsv(dir, table)
  writeParquet(dir, table, { 'tokumei.release': id, 'tokumei.project': query.project })
  const label = (cell: number) =>
    (answer.table.cells[cell]?.key ?? [])
      .map((k, i) => (k < 0 ? TOTAL_LABEL : answer.table.categories[i]?.[k]))
      .join(' / ')
  const disclosure = {
    release: id,
    project: query.project,
    title: query.title,
    measure: query.measure,
    dimensions: query.dimensions,
    cohort: answer.cohort,
    threshold: query.threshold,
    rounding: query.rounding ?? null,
    cells: answer.rows.length,
    primary: answer.disclosure.primary,
    secondary: answer.disclosure.secondary,
    rounds: answer.disclosure.rounds,
    rule: 'cells of 1 … threshold − 1 persons suppressed (primary); further cells suppressed so that no margin equation has a single unknown and every suppressed cell’s feasible range (linear programming over the published margins) is wider than a point and reaches 0 or the threshold',
    bounds: answer.disclosure.bounds.map((b) => ({
      cell: label(b.cell),
      kind: b.primary ? 'primary' : 'secondary',
      lower: Math.round(b.lower * 1000) / 1000,
      upper: Math.round(b.upper * 1000) / 1000,
      protected: b.protected,
    })),
  }
  writeFileSync(join(dir, 'disclosure.json'), `${JSON.stringify(disclosure, null, 2)}\n`)
  writeCsv(dir, {
    name: 'data_dictionary',
    header: ['table', 'variable', 'type', 'description', 'processing'],
    types: [],
    rows: answer.header.map((h) => [
      'table',
      h,
      'string',
      h === 'count'
        ? 'persons in the cell'
        : h === 'sum' || h === 'mean'
          ? `the ${h} of the newest result per person`
          : `the ${h} category; ${TOTAL_LABEL} is the total over it`,
      h === 'count' || h === 'sum' || h === 'mean'
        ? `x: suppressed (1–${query.threshold - 1} persons, or to protect such a cell)${query.rounding ? `; rounded to ${query.rounding}` : ''}`
        : 'category',
    ]),
  })
  const rowCounts = new Map([
    ['table.csv', answer.rows.length],
    ['table.parquet', answer.rows.length],
  ])
  const manifest = signManifest(
    {
      format: 'tokumei-release/1',
      release: id,
      kind: 'statistics',
      project: query.project,
      contract: contract.contract,
      recipients: contract.recipients.map((r) => `${r.name} (${r.organisation})`),
      created: new Date().toISOString(),
      engine: `tokumei ${TOKUMEI_VERSION}`,
      specSha256: query.sha256,
      disclosure: {
        threshold: query.threshold,
        tables: ['table.csv'],
        ...(query.rounding ? { rounding: query.rounding } : {}),
      },
      files: listFiles(dir, rowCounts),
    },
    {
      ...context.keyring.signingKey('release-manifest'),
      sign: (message) => context.keyring.sign('release-manifest', message),
    },
  )
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  return manifest
}
