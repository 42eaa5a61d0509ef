import { readFileSync } from 'node:fs'
import { parse } from 'csv-parse/sync'
import { TokumeiError } from '../../model/index.js'
import { decodeCsv, sniffDelimiter } from '../csv.js'
import type { Column } from '../table.js'
import { bindHierarchy, type Hierarchy } from './hierarchy.js'

/**
 * A hierarchy in ARX’s CSV form: one row per value, `value;level1;level2;…` (no header; the delimiter
 * is read off the first row, so a comma works too), the same number of levels on every row. The rows
 * are the attribute's domain (the loss metric's shares are counted over them), so a hierarchy may
 * list values the data lack, but not the reverse.
 */
export function readArxHierarchy(
  file: string,
  column: Column,
  delimiter?: string,
  /** How reports name it (default: the path). */
  name = file,
): Hierarchy {
  let text: string
  try {
    text = decodeCsv(readFileSync(file), file)
  } catch (error) {
    if (error instanceof TokumeiError) throw error
    throw new TokumeiError(`The hierarchy ${file} of column ${column.name} cannot be read.`, {
      code: 'anonymize.hierarchy_unreadable',
      kind: 'invalid',
      details: { file, column: column.name },
    })
  }
  let rows: Array<{ record: string[]; info: { lines: number } }>
  try {
    rows = parse(text, {
      delimiter: delimiter ?? sniffDelimiter(text),
      bom: true,
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
    }) as unknown as Array<{ record: string[]; info: { lines: number } }>
  } catch (error) {
    throw new TokumeiError(`The hierarchy ${file} is not a readable CSV.`, {
      code: 'anonymize.hierarchy_unreadable',
      kind: 'invalid',
      details: { file, column: column.name },
      cause: error,
    })
  }
  const domain = new Map<string, readonly string[]>()
  const width = rows[0]?.record.length ?? 0
  for (const { record, info } of rows) {
    if (record.length !== width)
      throw new TokumeiError(
        `The hierarchy ${file}, line ${info.lines}: ${record.length} levels where the first row has ${width}.`,
        {
          code: 'anonymize.hierarchy_ragged',
          kind: 'invalid',
          details: { file, column: column.name, line: info.lines },
        },
      )
    const [value, ...labels] = record as [string, ...string[]]
    if (domain.has(value))
      throw new TokumeiError(
        `The hierarchy ${file}, line ${info.lines}: the value "${value}" is listed twice.`,
        {
          code: 'anonymize.hierarchy_duplicate',
          kind: 'invalid',
          details: { file, column: column.name, line: info.lines },
        },
      )
    domain.set(value, labels)
  }
  return bindHierarchy(column, name, domain)
}
