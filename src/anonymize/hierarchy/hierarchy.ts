import { TokumeiError } from '../../model/index.js'
import type { Column } from '../table.js'

/**
 * A generalization hierarchy bound to one column: level 0 is the value itself, each level above a
 * coarser label (age 37 → 35-39 → 30-39 → *). Labels are encoded per level; `map[l][code]` is the
 * level-l label of the column's value `code`. A hierarchy must be functional — two values with the
 * same label at one level have the same label at every higher level — or classes could not be rolled
 * up from a finer level to a coarser one; `bindHierarchy` refuses one that is not.
 */
export interface Hierarchy {
  readonly column: string
  /** Where it came from, for reports: a file name or `builtin:age` … */
  readonly source: string
  /** Generalization steps above the value (levels are 0 … height). */
  readonly height: number
  readonly labels: readonly (readonly string[])[]
  readonly map: readonly Int32Array[]
  /** Values of the attribute's domain (the hierarchy's rows, or the column's distinct values). */
  readonly domainSize: number
  /**
   * Per level and label, the share of the domain under it (ARX's domain share: values under the
   * label / domain size), the basis of the loss metric.
   */
  readonly share: readonly Float64Array[]
  /** Level `from` labels → level `to` labels (from ≤ to); level 0 labels are the column's codes. */
  lift(from: number, to: number): Int32Array
}

/** One value's labels at levels 1 … height, or why it has none. */
export type Generalizer = (value: string) => readonly string[] | { readonly error: string }

/**
 * Binds a hierarchy to a column. `domain` is the attribute's whole domain with each value's labels
 * (from a hierarchy file: every row; for a built-in: the column's own values); every value of the
 * column must be in it.
 */
export function bindHierarchy(
  column: Column,
  source: string,
  domain: ReadonlyMap<string, readonly string[]>,
  describe: (value: string) => string = (value) => `"${value}"`,
): Hierarchy {
  const heights = new Set([...domain.values()].map((labels) => labels.length))
  if (heights.size > 1)
    throw new TokumeiError(
      `The hierarchy ${source} of column ${column.name} has rows of different lengths (${[...heights].sort().join(', ')} levels): every value needs a label at every level.`,
      { code: 'anonymize.hierarchy_ragged', kind: 'invalid', details: { column: column.name, source } },
    )
  const height = heights.values().next().value ?? 0
  // Level labels are encoded over the domain, so that shares count the domain, not the data.
  const domainValues = [...domain.keys()]
  const labelIds = Array.from({ length: height + 1 }, () => new Map<string, number>())
  const labels: string[][] = Array.from({ length: height + 1 }, () => [])
  const counts: number[][] = Array.from({ length: height + 1 }, () => [])
  const domainMap = Array.from({ length: height + 1 }, () => new Int32Array(domainValues.length))
  domainValues.forEach((value, d) => {
    const row = [value, ...(domain.get(value) as readonly string[])]
    for (let l = 0; l <= height; l++) {
      const label = row[l] as string
      let id = (labelIds[l] as Map<string, number>).get(label)
      if (id === undefined) {
        id = (labels[l] as string[]).length
        ;(labels[l] as string[]).push(label)
        ;(labelIds[l] as Map<string, number>).set(label, id)
        ;(counts[l] as number[]).push(0)
      }
      ;(counts[l] as number[])[id] = ((counts[l] as number[])[id] as number) + 1
      ;(domainMap[l] as Int32Array)[d] = id
    }
  })
  // Functional: each label determines its labels above (checked over the whole domain).
  const lifts = new Map<string, Int32Array>()
  for (let from = 0; from <= height; from++)
    for (let to = from; to <= height; to++) {
      const lift = new Int32Array((labels[from] as string[]).length).fill(-1)
      for (let d = 0; d < domainValues.length; d++) {
        const a = (domainMap[from] as Int32Array)[d] as number
        const b = (domainMap[to] as Int32Array)[d] as number
        if (lift[a] === -1) lift[a] = b
        else if (lift[a] !== b) {
          const label = (labels[from] as string[])[a] as string
          throw new TokumeiError(
            `The hierarchy ${source} of column ${column.name} is not a hierarchy: ${describe(label)} at level ${from} generalizes to both ${describe((labels[to] as string[])[lift[a] as number] as string)} and ${describe((labels[to] as string[])[b] as string)} at level ${to}.`,
            {
              code: 'anonymize.hierarchy_inconsistent',
              kind: 'invalid',
              details: { column: column.name, source, from, to },
            },
          )
        }
      }
      lifts.set(`${from}:${to}`, lift)
    }
  // The column's values to their labels at each level.
  const domainIndex = new Map(domainValues.map((value, d) => [value, d]))
  const valueIndex = Int32Array.from(column.dictionary, (value) => {
    const d = domainIndex.get(value)
    return d === undefined ? -1 : d
  })
  const missing = column.dictionary.findIndex((_, code) => valueIndex[code] === -1)
  if (missing >= 0) {
    const row = column.codes.indexOf(missing)
    throw new TokumeiError(
      `Column ${column.name}: the value ${describe(column.dictionary[missing] as string)} (data row ${row + 1}) is not in its hierarchy ${source}.`,
      {
        code: 'anonymize.value_not_in_hierarchy',
        kind: 'invalid',
        details: { column: column.name, source, row: row + 1 },
      },
    )
  }
  // Level 0 is the column's own codes (what the table holds); higher levels are the domain's labels.
  const identity = Int32Array.from(column.dictionary, (_, code) => code)
  const map = domainMap.map((levelMap, level) =>
    level === 0 ? identity : Int32Array.from(valueIndex, (d) => levelMap[d] as number),
  )
  const share = counts.map((levelCounts, level) =>
    level === 0
      ? new Float64Array(column.dictionary.length).fill(1 / domainValues.length)
      : Float64Array.from(levelCounts, (count) => count / domainValues.length),
  )
  return {
    column: column.name,
    source,
    height,
    labels: labels.map((l, level) => (level === 0 ? column.dictionary : l)),
    map,
    domainSize: domainValues.length,
    share,
    lift(from, to) {
      if (from === 0) return map[to] as Int32Array
      const lift = lifts.get(`${from}:${to}`)
      if (!lift) throw new Error(`No lift from level ${from} to ${to} in ${source}.`)
      return lift
    },
  }
}

/**
 * A built-in hierarchy over the column's own values. A value the generalizer cannot read is an error
 * naming the column and the first data row that holds it.
 */
export function generatedHierarchy(column: Column, source: string, generalize: Generalizer): Hierarchy {
  const domain = new Map<string, readonly string[]>()
  // A missing value (empty) is unknown at every level: `*`, as a suppressed one is.
  let missing = false
  column.dictionary.forEach((value, code) => {
    if (value.trim() === '') {
      missing = true
      return
    }
    const labels = generalize(value)
    if ('error' in labels) {
      const row = column.codes.indexOf(code)
      throw new TokumeiError(
        `Column ${column.name}, data row ${row + 1}: ${labels.error} (hierarchy ${source}).`,
        {
          code: 'anonymize.bad_value',
          kind: 'invalid',
          details: { column: column.name, source, row: row + 1 },
        },
      )
    }
    domain.set(value, labels)
  })
  if (missing) {
    const height = Math.max(1, ...[...domain.values()].map((labels) => labels.length))
    for (const value of column.dictionary)
      if (value.trim() === '') domain.set(value, new Array<string>(height).fill('*'))
  }
  return bindHierarchy(column, source, domain)
}

/** The hierarchy of a column without one: the value, then `*`. */
export function suppressionHierarchy(column: Column): Hierarchy {
  return generatedHierarchy(column, 'builtin:suppress', () => ['*'])
}

/** A hierarchy as plain data (for a worker thread: structured clone keeps no methods). */
export interface PlainHierarchy {
  readonly column: string
  readonly source: string
  readonly height: number
  readonly labels: readonly (readonly string[])[]
  readonly map: readonly Int32Array[]
  readonly domainSize: number
  readonly share: readonly Float64Array[]
  /** Lifts between higher levels (from ≥ 1); from level 0 they are `map`. */
  readonly lifts: ReadonlyArray<readonly [number, number, Int32Array]>
}

export function plainHierarchy(h: Hierarchy): PlainHierarchy {
  const lifts: Array<[number, number, Int32Array]> = []
  for (let from = 1; from <= h.height; from++)
    for (let to = from; to <= h.height; to++) lifts.push([from, to, h.lift(from, to)])
  return {
    column: h.column,
    source: h.source,
    height: h.height,
    labels: h.labels,
    map: h.map,
    domainSize: h.domainSize,
    share: h.share,
    lifts,
  }
}

export function hierarchyFromPlain(p: PlainHierarchy): Hierarchy {
  const lifts = new Map(p.lifts.map(([from, to, lift]) => [`${from}:${to}`, lift]))
  return {
    column: p.column,
    source: p.source,
    height: p.height,
    labels: p.labels,
    map: p.map,
    domainSize: p.domainSize,
    share: p.share,
    lift(from, to) {
      if (from === 0) return p.map[to] as Int32Array
      const lift = lifts.get(`${from}:${to}`)
      if (!lift) throw new Error(`No lift from level ${from} to ${to} in ${p.source}.`)
      return lift
    },
  }
}
