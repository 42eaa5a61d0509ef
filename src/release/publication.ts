import { createHash } from 'node:crypto'
import type { Kysely } from 'kysely'
import { parseCsv } from '../anonymize/index.js'
import type { Schema } from '../db/index.js'
import { TokumeiError } from '../model/index.js'
import { type Keyring, recordAuditEvent } from '../security/index.js'

/**
 * The publication check (公表物確認): before a recipient publishes tables made from provided data,
 * the agency checks them. Every column whose cells are all whole numbers (after the first column,
 * which labels the rows) is a column of counts; a count from 1 to threshold − 1 is flagged with its
 * row and column. The check, its digest and its findings are recorded and audited.
 */
export interface PublicationFinding {
  readonly row: number
  readonly column: string
  readonly value: number
}

export interface PublicationCheck {
  readonly id: number
  readonly project: string
  readonly file: string
  readonly sha256: string
  readonly threshold: number
  readonly cells: number
  readonly flagged: readonly PublicationFinding[]
  readonly passed: boolean
}

const COUNT = /^\s*\d+\s*$/

export function findSmallCells(
  text: string,
  file: string,
  threshold: number,
): { cells: number; flagged: PublicationFinding[] } {
  const table = parseCsv(text, file)
  const flagged: PublicationFinding[] = []
  let cells = 0
  table.header.forEach((name, c) => {
    if (c === 0) return
    const values = table.rows.map((r) => r[c] ?? '')
    const filled = values.filter((v) => v.trim() !== '' && v.trim() !== '-' && v.trim().toLowerCase() !== 'x')
    if (filled.length === 0 || !filled.every((v) => COUNT.test(v))) return
    values.forEach((v, r) => {
      if (!COUNT.test(v)) return
      cells++
      const n = Number(v)
      if (n > 0 && n < threshold) flagged.push({ row: table.lineOf(r), column: name, value: n })
    })
  })
  return { cells, flagged }
}

export async function checkPublication(
  context: { db: Kysely<Schema>; keyring: Keyring; actor: string },
  input: { project: string; file: string; text: string; threshold?: number },
): Promise<PublicationCheck> {
  const threshold = input.threshold ?? 10
  if (!Number.isInteger(threshold) || threshold < 2)
    throw new TokumeiError('The threshold of a publication check is a whole number of at least 2.', {
      code: 'publication.bad_threshold',
      kind: 'invalid',
    })
  const project = await context.db
    .selectFrom('governance.project')
    .select(['id', 'code'])
    .where('code', '=', input.project)
    .executeTakeFirst()
  if (!project)
    throw new TokumeiError(`There is no project ${input.project}.`, {
      code: 'project.not_found',
      kind: 'not_found',
    })
  const { cells, flagged } = findSmallCells(input.text, input.file, threshold)
  if (cells === 0)
    throw new TokumeiError(
      `${input.file}: no column of counts (whole numbers) after the first column; a publication check reads tables of counts.`,
      { code: 'publication.no_counts', kind: 'invalid' },
    )
  const sha256 = createHash('sha256').update(input.text).digest('hex')
  const row = await context.db
    .insertInto('governance.publication_check')
    .values({
      project_id: project.id,
      file_name: input.file,
      sha256,
      threshold,
      cells,
      flagged: flagged.length,
      result: JSON.stringify({ flagged }),
      checked_by: context.actor,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  await recordAuditEvent(context.db, context.keyring, {
    actor: context.actor,
    action: 'publication.checked',
    target: `project:${project.code}`,
    outcome: flagged.length === 0 ? 'ok' : 'denied',
    detail: { check: row.id, cells, flagged: flagged.length, sha256: sha256.slice(0, 16) },
  })
  return {
    id: row.id,
    project: project.code,
    file: input.file,
    sha256,
    threshold,
    cells,
    flagged,
    passed: flagged.length === 0,
  }
}
