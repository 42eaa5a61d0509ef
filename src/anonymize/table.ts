/**
 * The engine's table: one column per attribute, dictionary-encoded — each distinct value once in
 * `dictionary`, each row a code into it (`Int32Array`). Grouping, generalization and counting then
 * work on small integers, never on strings.
 */
export interface Column {
  readonly name: string
  readonly dictionary: readonly string[]
  readonly codes: Int32Array
}

export class Table {
  readonly columns: readonly Column[]
  readonly rows: number
  readonly #byName: ReadonlyMap<string, Column>

  constructor(columns: readonly Column[], rows: number) {
    for (const column of columns)
      if (column.codes.length !== rows)
        throw new Error(`Column ${column.name} has ${column.codes.length} rows, the table ${rows}.`)
    this.columns = columns
    this.rows = rows
    this.#byName = new Map(columns.map((c) => [c.name, c]))
  }

  get names(): string[] {
    return this.columns.map((c) => c.name)
  }

  column(name: string): Column | undefined {
    return this.#byName.get(name)
  }

  /** The value of one cell. */
  value(column: Column, row: number): string {
    return column.dictionary[column.codes[row] as number] as string
  }

  /** The table without some of its rows (`keep[row]` true for the rows kept). */
  filter(keep: Uint8Array): Table {
    let rows = 0
    for (let r = 0; r < this.rows; r++) if (keep[r]) rows++
    const columns = this.columns.map((column) => {
      const codes = new Int32Array(rows)
      let w = 0
      for (let r = 0; r < this.rows; r++) if (keep[r]) codes[w++] = column.codes[r] as number
      return { name: column.name, dictionary: column.dictionary, codes }
    })
    return new Table(columns, rows)
  }
}

/** A column from its values, encoded. */
export function encodeColumn(name: string, values: ArrayLike<string>): Column {
  const ids = new Map<string, number>()
  const dictionary: string[] = []
  const codes = new Int32Array(values.length)
  for (let r = 0; r < values.length; r++) {
    const value = values[r] as string
    let id = ids.get(value)
    if (id === undefined) {
      id = dictionary.length
      dictionary.push(value)
      ids.set(value, id)
    }
    codes[r] = id
  }
  return { name, dictionary, codes }
}

/** A table from a header and rows of cells (every row as long as the header). */
export function tableFromRows(header: readonly string[], rows: readonly (readonly string[])[]): Table {
  const columns = header.map((name, c) =>
    encodeColumn(
      name,
      rows.map((row) => row[c] as string),
    ),
  )
  return new Table(columns, rows.length)
}

/** A column with each value replaced (the same function of the value for every row). */
export function mapColumn(column: Column, f: (value: string) => string, name = column.name): Column {
  const encoded = encodeColumn(name, column.dictionary.map(f))
  const codes = new Int32Array(column.codes.length)
  for (let r = 0; r < codes.length; r++) codes[r] = encoded.codes[column.codes[r] as number] as number
  return { name, dictionary: encoded.dictionary, codes }
}

/** The table as a header and rows of cells (the inverse of `tableFromRows`). */
export function tableToRows(table: Table): { header: string[]; rows: string[][] } {
  const rows: string[][] = new Array(table.rows)
  for (let r = 0; r < table.rows; r++)
    rows[r] = table.columns.map((c) => c.dictionary[c.codes[r] as number] as string)
  return { header: table.names, rows }
}
