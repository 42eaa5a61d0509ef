import { constraintsOf, type HierTable } from './tabulate.js'

/**
 * Disclosure control of a table with its margins (統計表の秘匿処理).
 *
 * - Primary suppression: a cell counting 1 … threshold − 1 persons is not published (0 is).
 * - Secondary suppression: wherever a margin's equation would hold a single unknown, another cell of
 *   that equation is suppressed too (the smallest one), until no equation gives a cell away.
 * - The check: for every suppressed cell, the least and the greatest value it can take given what
 *   is published (two linear programs each, GLPK). A suppressed cell must not be pinned down (its
 *   range is wider than a point), and a primarily suppressed cell's range must reach 0 or the
 *   threshold, so that nobody can tell it holds a small number of persons. Cells whose range is
 *   too narrow get another partner, and the check runs again.
 */
export type CellState = 0 | 1 | 2

export interface CellBounds {
  readonly cell: number
  readonly lower: number
  readonly upper: number
  readonly primary: boolean
  readonly protected: boolean
}

export interface Disclosure {
  readonly threshold: number
  /** Per cell: 0 published, 1 primary, 2 secondary suppression. */
  readonly state: Uint8Array
  readonly primary: number
  readonly secondary: number
  readonly bounds: readonly CellBounds[]
  /** Every suppressed cell is protected. */
  readonly protected: boolean
  readonly rounds: number
}

type Solver = {
  GLP_MIN: number
  GLP_MAX: number
  GLP_FX: number
  GLP_DB: number
  GLP_MSG_OFF: number
  GLP_OPT: number
  solve(lp: unknown, options?: unknown): { result: { status: number; z: number } }
}

let solver: Promise<Solver> | undefined
async function glpk(): Promise<Solver> {
  if (!solver) solver = import('glpk.js/node').then(async (m) => (await m.default()) as unknown as Solver)
  return solver
}

/** The published value of a cell, or the variable that stands for it. */
const variable = (cell: number) => `x${cell}`

export async function feasibleBounds(
  table: HierTable,
  state: Uint8Array,
  threshold: number,
  constraints = constraintsOf(table),
): Promise<CellBounds[]> {
  const g = await glpk()
  const grand = table.cells[table.index.get(table.dimensions.map(() => -1).join('|')) as number]?.count ?? 0
  const rows = constraints
    .filter(([total, parts]) => state[total] !== 0 || parts.some((p) => state[p] !== 0))
    .map(([total, parts], r) => {
      let constant = 0
      const vars: Array<{ name: string; coef: number }> = []
      const term = (cell: number, coef: number) => {
        if (state[cell] !== 0) vars.push({ name: variable(cell), coef })
        else constant += coef * (table.cells[cell]?.count as number)
      }
      for (const p of parts) term(p, 1)
      term(total, -1)
      return { name: `r${r}`, vars, bnds: { type: g.GLP_FX, lb: -constant, ub: -constant } }
    })
  const suppressed: number[] = []
  state.forEach((s, c) => {
    if (s !== 0) suppressed.push(c)
  })
  const bounds = suppressed.map((c) => ({ name: variable(c), type: g.GLP_DB, lb: 0, ub: grand }))
  const out: CellBounds[] = []
  for (const cell of suppressed) {
    const solve = (direction: number) => {
      const { result } = g.solve(
        {
          name: 'bounds',
          objective: { direction, name: 'z', vars: [{ name: variable(cell), coef: 1 }] },
          subjectTo: rows,
          bounds,
        },
        { msglev: g.GLP_MSG_OFF, presol: true },
      )
      return result.status === g.GLP_OPT ? result.z : direction === g.GLP_MIN ? 0 : grand
    }
    const lower = solve(g.GLP_MIN)
    const upper = solve(g.GLP_MAX)
    const primary = state[cell] === 1
    const wide = upper - lower > 0.5
    out.push({
      cell,
      lower,
      upper,
      primary,
      protected: wide && (!primary || lower < 0.5 || upper > threshold - 0.5),
    })
  }
  return out
}

export async function protectTable(table: HierTable, threshold: number): Promise<Disclosure> {
  const state = new Uint8Array(table.cells.length)
  table.cells.forEach((cell, c) => {
    if (cell.count >= 1 && cell.count < threshold) state[c] = 1
  })
  const constraints = constraintsOf(table)
  const linesOf = new Map<number, Array<readonly number[]>>()
  for (const [total, parts] of constraints) {
    const line = [total, ...parts]
    for (const c of line) {
      let lines = linesOf.get(c)
      if (!lines) {
        lines = []
        linesOf.set(c, lines)
      }
      lines.push(line)
    }
  }
  /** The cell of the line to suppress with it: the smallest published count above 0, else a 0. */
  const partner = (line: readonly number[]): number | undefined => {
    let best: number | undefined
    let bestCount = Number.POSITIVE_INFINITY
    for (const c of line) {
      if (state[c] !== 0) continue
      const count = table.cells[c]?.count as number
      // Zero cells come last: suppressing one hides little.
      const rank = count === 0 ? Number.MAX_SAFE_INTEGER : count
      if (rank < bestCount) {
        best = c
        bestCount = rank
      }
    }
    return best
  }
  let rounds = 0
  let bounds: CellBounds[] = []
  for (;;) {
    rounds++
    // Equations with a single unknown.
    for (let changed = true; changed; ) {
      changed = false
      for (const [total, parts] of constraints) {
        const line = [total, ...parts]
        if (line.filter((c) => state[c] !== 0).length !== 1) continue
        const other = partner(line)
        if (other === undefined) continue
        state[other] = 2
        changed = true
      }
    }
    bounds = await feasibleBounds(table, state, threshold, constraints)
    const weak = bounds.filter((b) => !b.protected)
    if (weak.length === 0 || rounds >= 25) break
    let added = 0
    for (const b of weak) {
      for (const line of linesOf.get(b.cell) ?? []) {
        const other = partner(line)
        if (other !== undefined) {
          state[other] = 2
          added++
          break
        }
      }
    }
    if (added === 0) break
  }
  let primary = 0
  let secondary = 0
  for (const s of state) {
    if (s === 1) primary++
    else if (s === 2) secondary++
  }
  return {
    threshold,
    state,
    primary,
    secondary,
    bounds,
    protected: bounds.every((b) => b.protected),
    rounds,
  }
}
