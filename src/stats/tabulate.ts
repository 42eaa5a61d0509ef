import { PREFECTURES, regionOf } from '../model/index.js'
import type { Dimension } from './query.js'

/**
 * A table of counts (and sums) with all its margins: every combination of each dimension's
 * categories and its total (計), so that a cell with a total in dimension i is the sum of the cells
 * below it along i. That additivity is what an attacker uses to recover a suppressed cell, and what
 * secondary suppression and the bounds check reason about.
 */
export const TOTAL = -1

export interface StatsPerson {
  readonly age?: number
  readonly sex?: string | null
  readonly area?: string | null
  readonly birthYear?: number
  /** The value summed or averaged (a lab result), when the measure has one. */
  readonly value?: number
}

export interface Cell {
  /** Per dimension: the category's index, or TOTAL. */
  readonly key: readonly number[]
  readonly count: number
  /** Sum of the values of the persons with one (for sum and mean). */
  readonly sum: number
  /** Persons with a value. */
  readonly valued: number
}

export interface HierTable {
  readonly dimensions: readonly Dimension[]
  readonly categories: readonly (readonly string[])[]
  readonly cells: readonly Cell[]
  /** Cell index by key (`a|b|c`). */
  readonly index: ReadonlyMap<string, number>
}

export const keyOf = (key: readonly number[]) => key.join('|')

const UNKNOWN = '不詳'

function band(age: number | undefined, width: number): string {
  if (age === undefined) return UNKNOWN
  if (age >= 90) return '90+'
  const from = Math.floor(age / width) * width
  return `${from}-${from + width - 1}`
}

function prefectureOf(area: string | null | undefined): string {
  if (!area) return UNKNOWN
  return PREFECTURES.find((p) => area.startsWith(p)) ?? UNKNOWN
}

export function categoryOf(dimension: Dimension, person: StatsPerson): string {
  switch (dimension) {
    case 'age_band':
      return band(person.age, 10)
    case 'age_band_5':
      return band(person.age, 5)
    case 'sex':
      return person.sex && person.sex !== 'U' ? person.sex : UNKNOWN
    case 'prefecture':
      return prefectureOf(person.area)
    case 'region': {
      const p = prefectureOf(person.area)
      return p === UNKNOWN
        ? UNKNOWN
        : (regionOf(PREFECTURES.indexOf(p as (typeof PREFECTURES)[number]) + 1) ?? UNKNOWN)
    }
    case 'municipality':
      return person.area ?? UNKNOWN
    case 'year_of_birth_decade':
      return person.birthYear === undefined ? UNKNOWN : `${Math.floor(person.birthYear / 10) * 10}s`
  }
}

const order = (dimension: Dimension) => (a: string, b: string) => {
  if (a === UNKNOWN) return 1
  if (b === UNKNOWN) return -1
  if (dimension === 'prefecture') return PREFECTURES.indexOf(a as never) - PREFECTURES.indexOf(b as never)
  if (dimension.startsWith('age_band')) return Number.parseInt(a, 10) - Number.parseInt(b, 10)
  return a < b ? -1 : a > b ? 1 : 0
}

/** The table of the persons over the dimensions: every cell of the cross product and its margins. */
export function tabulate(persons: readonly StatsPerson[], dimensions: readonly Dimension[]): HierTable {
  const labels = persons.map((p) => dimensions.map((d) => categoryOf(d, p)))
  const categories = dimensions.map((d, i) => [...new Set(labels.map((l) => l[i] as string))].sort(order(d)))
  const ids = categories.map((c) => new Map(c.map((v, i) => [v, i])))
  const sizes = categories.map((c) => c.length + 1)
  const total = sizes.reduce((a, b) => a * b, 1)
  const counts = new Float64Array(total)
  const sums = new Float64Array(total)
  const valued = new Float64Array(total)
  // Cell position: mixed radix over (index + 1), where 0 stands for the total.
  const position = (key: readonly number[]) =>
    key.reduce((at, k, i) => at * (sizes[i] as number) + (k + 1), 0)
  persons.forEach((person, p) => {
    const leaf = (labels[p] as string[]).map((l, i) => (ids[i] as Map<string, number>).get(l) as number)
    // The person counts in the leaf and in every margin above it: 2^d cells.
    for (let mask = 0; mask < 1 << dimensions.length; mask++) {
      const key = leaf.map((k, i) => (mask & (1 << i) ? TOTAL : k))
      const at = position(key)
      counts[at] = (counts[at] as number) + 1
      if (person.value !== undefined) {
        sums[at] = (sums[at] as number) + person.value
        valued[at] = (valued[at] as number) + 1
      }
    }
  })
  const cells: Cell[] = []
  const index = new Map<string, number>()
  const key = new Array<number>(dimensions.length).fill(TOTAL)
  const walk = (d: number) => {
    if (d === dimensions.length) {
      const at = position(key)
      index.set(keyOf(key), cells.length)
      cells.push({
        key: [...key],
        count: counts[at] as number,
        sum: sums[at] as number,
        valued: valued[at] as number,
      })
      return
    }
    for (let k = -1; k < (categories[d] as string[]).length; k++) {
      key[d] = k
      walk(d + 1)
    }
  }
  walk(0)
  return { dimensions, categories, cells, index }
}

/**
 * The additivity constraints: for each cell with a total in dimension i, the cells it sums along i.
 * Each is [total cell, part cells].
 */
export function constraintsOf(table: HierTable): Array<readonly [number, readonly number[]]> {
  const out: Array<readonly [number, readonly number[]]> = []
  table.cells.forEach((cell, c) => {
    cell.key.forEach((k, i) => {
      if (k !== TOTAL) return
      const parts = (table.categories[i] as string[]).map((_, v) => {
        const key = [...cell.key]
        key[i] = v
        return table.index.get(keyOf(key)) as number
      })
      out.push([c, parts])
    })
  })
  return out
}
