import { readFileSync } from 'node:fs'
import { CsvError, parse } from 'csv-parse/sync'
import { stringify } from 'csv-stringify/sync'
import { TokumeiError } from '../model/index.js'
import { encodeColumn, Table } from './table.js'

/**
 * CSV in and out (csv-parse and csv-stringify, RFC 4180 with quotes, any delimiter). Files come in
 * UTF-8 (with or without BOM) or, as Japanese systems still write them, CP932 (Shift_JIS): a file
 * that is not valid UTF-8 is read as CP932 unless the encoding is given. Output is always UTF-8.
 */
export type CsvEncoding = 'auto' | 'utf-8' | 'cp932'

export interface CsvOptions {
  readonly delimiter?: string
  readonly encoding?: CsvEncoding
}

/** The text of a CSV file, decoded. */
export function decodeCsv(bytes: Uint8Array, file: string, encoding: CsvEncoding = 'auto'): string {
  if (encoding === 'utf-8' || encoding === 'auto')
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
    } catch {
      if (encoding === 'utf-8')
        throw new TokumeiError(`${file} is not valid UTF-8: give its encoding (csv.encoding: cp932).`, {
          code: 'anonymize.csv_encoding',
          kind: 'invalid',
          details: { file },
        })
    }
  return new TextDecoder('shift_jis').decode(bytes)
}

/** The delimiter of a CSV's header line: the most frequent of `;`, `,`, tab and `|`. */
export function sniffDelimiter(text: string): string {
  const header = text.slice(0, text.search(/\r?\n|$/))
  let best = ','
  let most = 0
  for (const candidate of [',', ';', '\t', '|']) {
    const count = header.split(candidate).length - 1
    if (count > most) {
      most = count
      best = candidate
    }
  }
  return best
}

export interface CsvRows {
  readonly header: string[]
  readonly rows: string[][]
  /** The file line a data row ends on (1-based), for messages; worked out only when asked. */
  lineOf(row: number): number
  readonly delimiter: string
}

const OPTIONS = { bom: true, skip_empty_lines: true, relax_column_count: false } as const

/** Parses a CSV with a header row; every row must have the header's number of fields. */
export function parseCsv(text: string, file: string, delimiter = sniffDelimiter(text)): CsvRows {
  let records: string[][]
  try {
    records = parse(text, { ...OPTIONS, delimiter }) as string[][]
  } catch (error) {
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines
      throw new TokumeiError(`${file}, line ${line ?? '?'}: ${csvProblem(error)}.`, {
        code: 'anonymize.csv_invalid',
        kind: 'invalid',
        details: { file, line: line ?? null, reason: error.code },
      })
    }
    throw error
  }
  const first = records[0]
  if (!first)
    throw new TokumeiError(`${file} is empty: a header row is needed.`, {
      code: 'anonymize.csv_empty',
      kind: 'invalid',
      details: { file },
    })
  const header = first.map((h) => h.trim())
  const seen = new Set<string>()
  for (const name of header) {
    if (name === '')
      throw new TokumeiError(`${file}, line 1: a column has no name.`, {
        code: 'anonymize.csv_header',
        kind: 'invalid',
        details: { file },
      })
    if (seen.has(name))
      throw new TokumeiError(`${file}, line 1: the column ${name} appears twice.`, {
        code: 'anonymize.csv_header',
        kind: 'invalid',
        details: { file, column: name },
      })
    seen.add(name)
  }
  // Lines are counted only for a message: a second parse with csv-parse's record info (quoted fields
  // may span lines, so a row's index does not give its line).
  let lines: Int32Array | undefined
  return {
    header,
    rows: records.slice(1),
    lineOf(row) {
      lines ??= Int32Array.from(
        (
          parse(text, { ...OPTIONS, delimiter, info: true }) as unknown as Array<{ info: { lines: number } }>
        ).slice(1),
        (r) => r.info.lines,
      )
      return lines[row] ?? row + 2
    },
    delimiter,
  }
}

/** The reason of a csv-parse error, as a phrase (its own messages quote the data). */
function csvProblem(error: CsvError): string {
  switch (error.code) {
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH':
      return 'the row has a different number of fields from the header'
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is not closed'
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'a quote inside a field is not escaped'
    default:
      return `the CSV cannot be read (${error.code})`
  }
}

export function readCsvTable(file: string, options: CsvOptions = {}): { table: Table; csv: CsvRows } {
  let bytes: Uint8Array
  try {
    bytes = readFileSync(file)
  } catch (error) {
    throw new TokumeiError(`${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`, {
      code: 'anonymize.file_unreadable',
      kind: 'invalid',
      details: { file },
    })
  }
  const text = decodeCsv(bytes, file, options.encoding)
  const csv = parseCsv(text, file, options.delimiter ?? sniffDelimiter(text))
  const columns = csv.header.map((name, c) => {
    const values = new Array<string>(csv.rows.length)
    for (let r = 0; r < csv.rows.length; r++) values[r] = (csv.rows[r] as string[])[c] as string
    return encodeColumn(name, values)
  })
  return { table: new Table(columns, csv.rows.length), csv }
}

/** A table as CSV text (UTF-8, `\n` line ends, quoted where needed). */
export function tableToCsv(table: Table, delimiter: string): string {
  const rows: string[][] = [table.names]
  for (let r = 0; r < table.rows; r++) rows.push(table.columns.map((c) => table.value(c, r)))
  return stringify(rows, { delimiter, record_delimiter: '\n' })
}
