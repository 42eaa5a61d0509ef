import type { Hierarchy } from '../hierarchy/hierarchy.js'

/**
 * Equivalence classes: the records that share every quasi-identifier's label under one
 * generalization (one node of the lattice). Each class holds its labels (per quasi-identifier, a
 * column of label codes at the node's levels), its record count and, per sensitive attribute, the
 * histogram of its values (compressed rows: class c's values are `values[start[c] … start[c+1])`).
 *
 * The table's distinct level-0 tuples are grouped once (`baseClasses`); every node is then rolled up
 * from them (`rollUp`), which reads one entry per distinct tuple instead of one per record. A tuple
 * is found by its mixed-radix key (Σ label × place): in a plain array when the labels at the node's
 * levels combine into few enough keys, else in an open-addressing table of keys; only when keys
 * would pass 2⁵³ are whole tuples hashed. Columns are read one attribute at a time, so the inner
 * loops are one typed-array lookup each.
 */
export interface Histograms {
  readonly start: Int32Array
  readonly values: Int32Array
  readonly counts: Int32Array
}

export interface Classes {
  readonly levels: readonly number[]
  readonly size: number
  /** Per quasi-identifier, each class's label code at the node's level. */
  readonly columns: readonly Int32Array[]
  readonly counts: Int32Array
  readonly sensitive: readonly Histograms[]
}

export interface BaseClasses extends Classes {
  /** Each record's base class. */
  readonly rowClass: Int32Array
}

/**
 * Group ids of keys below 2⁵³ by open addressing, in one reusable array of 4 integers a slot (the
 * key's low and high 32 bits, the id, and the stamp of the grouping that wrote it): a probe touches
 * one cache line, and a new grouping needs no clearing — it takes a new stamp.
 */
let table = new Int32Array(0)
let tableMask = 0
let stamp = 0

function prepareTable(groups: number): void {
  let capacity = 1024
  while (capacity < groups * 2) capacity *= 2
  if (table.length < capacity * 4) {
    table = new Int32Array(capacity * 4)
    stamp = 0
  }
  tableMask = capacity - 1
  stamp++
  if (stamp === 0x7fffffff) {
    table.fill(0)
    stamp = 1
  }
}

/** The id of the key (low and high 32 bits), `next` if it is new. */
function findKey(low: number, high: number, next: number): number {
  let h = Math.imul(low, 0x9e3779b1) ^ Math.imul(high, 0x85ebca77)
  h ^= h >>> 15
  h = Math.imul(h, 0x2c1b3c6d)
  let slot = (h ^ (h >>> 12)) & tableMask
  for (;;) {
    const at = slot << 2
    if (table[at + 3] !== stamp) {
      table[at] = low
      table[at + 1] = high
      table[at + 2] = next
      table[at + 3] = stamp
      return next
    }
    if (table[at] === low && table[at + 1] === high) return table[at + 2] as number
    slot = (slot + 1) & tableMask
  }
}

/** Group ids of whole tuples (keys that would pass 2⁵³). */
class TupleIndex {
  readonly #columns: readonly Int32Array[]
  readonly representative: number[] = []
  #slots: Int32Array
  #mask: number

  /** `columns[a][i]`: entry i's code of attribute a. */
  constructor(columns: readonly Int32Array[], expected: number) {
    this.#columns = columns
    let capacity = 16
    while (capacity < expected * 2) capacity *= 2
    this.#slots = new Int32Array(capacity).fill(-1)
    this.#mask = capacity - 1
  }

  #hash(i: number): number {
    let h = 0x811c9dc5
    for (const column of this.#columns) h = Math.imul(h ^ (column[i] as number), 0x01000193)
    h ^= h >>> 15
    h = Math.imul(h, 0x2c1b3c6d)
    return (h ^ (h >>> 12)) & this.#mask
  }

  #same(i: number, j: number): boolean {
    for (const column of this.#columns) if (column[i] !== column[j]) return false
    return true
  }

  /** The group of entry i (a new one when no earlier entry has its tuple). */
  find(i: number): number {
    let slot = this.#hash(i)
    for (;;) {
      const id = this.#slots[slot] as number
      if (id === -1) break
      if (this.#same(this.representative[id] as number, i)) return id
      slot = (slot + 1) & this.#mask
    }
    const id = this.representative.length
    this.representative.push(i)
    this.#slots[slot] = id
    if (this.representative.length * 2 > this.#slots.length) this.#grow()
    return id
  }

  #grow() {
    this.#slots = new Int32Array(this.#slots.length * 2).fill(-1)
    this.#mask = this.#slots.length - 1
    this.representative.forEach((i, id) => {
      let slot = this.#hash(i)
      while (this.#slots[slot] !== -1) slot = (slot + 1) & this.#mask
      this.#slots[slot] = id
    })
  }
}

/** Keys of the dense path: at most this many, found in a plain array (reset after each use). */
const DENSE_LIMIT = 1 << 22
let denseSlots = new Int32Array(0)

/** Entries are keyed and grouped a chunk at a time, so that a grouping over its limit stops early. */
const CHUNK = 16_384

/**
 * One part of a grouping key: each entry's code in `codes`, and what each code adds to the key
 * (`add[code]`: the label's mixed-radix place value, computed once per node, so that the inner loop
 * is one lookup and one addition).
 */
export interface KeyPart {
  readonly codes: Int32Array | Uint16Array
  readonly add: Int32Array | Float64Array
}

/**
 * Groups entries by the sum of their key parts (keys below `space`, an upper bound). Returns each
 * entry's group and each group's first entry — or undefined as soon as there are more than
 * `maxGroups` groups.
 */
function groupByKey(
  parts: readonly KeyPart[],
  space: number,
  entries: number,
  maxGroups: number,
): { into: Int32Array; first: number[] } | undefined {
  const into = new Int32Array(entries)
  const small = space < 2 ** 31
  const keys = small ? new Int32Array(CHUNK) : new Float64Array(CHUNK)
  const dense = space <= DENSE_LIMIT
  if (dense && denseSlots.length < space) denseSlots = new Int32Array(Math.max(space, 1 << 16)).fill(-1)
  const slots = denseSlots
  if (!dense) prepareTable(Math.min(entries, maxGroups + 1))
  // Each group's first entry stands for it.
  const first: number[] = []
  let over = false
  for (let from = 0; from < entries && !over; from += CHUNK) {
    const to = Math.min(entries, from + CHUNK)
    keys.fill(0)
    for (const part of parts) {
      const codes = part.codes
      if (small) {
        const k = keys as Int32Array
        const add = part.add as Int32Array
        for (let i = from; i < to; i++)
          k[i - from] = ((k[i - from] as number) + (add[codes[i] as number] as number)) | 0
      } else {
        const k = keys as Float64Array
        const add = part.add as Float64Array
        for (let i = from; i < to; i++)
          k[i - from] = (k[i - from] as number) + (add[codes[i] as number] as number)
      }
    }
    if (dense) {
      const k = keys as Int32Array
      for (let i = from; i < to; i++) {
        const key = k[i - from] as number
        let id = slots[key] as number
        if (id === -1) {
          id = first.length
          slots[key] = id
          first.push(i)
        }
        into[i] = id
      }
    } else if (small) {
      const k = keys as Int32Array
      for (let i = from; i < to; i++) {
        const id = findKey(k[i - from] as number, 0, first.length)
        if (id === first.length) first.push(i)
        into[i] = id
      }
    } else {
      const k = keys as Float64Array
      for (let i = from; i < to; i++) {
        const key = k[i - from] as number
        const low = key % 4294967296
        const id = findKey(low | 0, ((key - low) / 4294967296) | 0, first.length)
        if (id === first.length) first.push(i)
        into[i] = id
      }
    }
    over = first.length > maxGroups
  }
  if (dense)
    for (const i of first) {
      let key = 0
      for (const part of parts) key += part.add[part.codes[i] as number] as number
      slots[key] = -1
    }
  return over ? undefined : { into, first }
}

/** Place values of the labels of each attribute at the target levels (mixed radix, last fastest). */
function places(radix: readonly number[]): { place: number[]; space: number } {
  const place: number[] = new Array(radix.length)
  let p = 1
  for (let a = radix.length - 1; a >= 0; a--) {
    place[a] = p
    p *= Math.max(radix[a] as number, 1)
  }
  return { place, space: p }
}

/**
 * Groups entries by their tuple: entry i's code for attribute a is `lifts[a][codes[a][i]]` (or
 * `codes[a][i]` where `lifts[a]` is undefined), below `radix[a]`. Returns each entry's group and,
 * per attribute, each group's code — or undefined as soon as there are more than `maxGroups` groups.
 */
function group(
  codes: readonly Int32Array[],
  lifts: ReadonlyArray<Int32Array | undefined>,
  radix: readonly number[],
  entries: number,
  maxGroups = Number.POSITIVE_INFINITY,
  parts?: readonly KeyPart[],
): { into: Int32Array; columns: Int32Array[]; size: number } | undefined {
  const { place, space } = places(radix)
  if (space > Number.MAX_SAFE_INTEGER) {
    const into = new Int32Array(entries)
    const lifted = codes.map((column, a) => {
      const lift = lifts[a]
      return lift ? Int32Array.from(column.subarray(0, entries), (code) => lift[code] as number) : column
    })
    const index = new TupleIndex(lifted, Math.min(entries, 1 << 20))
    for (let i = 0; i < entries; i++) {
      into[i] = index.find(i)
      if (index.representative.length > maxGroups) return undefined
    }
    const size = index.representative.length
    const columns = lifted.map((column) => Int32Array.from(index.representative, (i) => column[i] as number))
    return { into, columns, size }
  }
  const small = space < 2 ** 31
  const keyParts =
    parts ??
    codes.map((column, a) => {
      const lift = lifts[a]
      const weight = place[a] as number
      const from = lift ? lift.length : (radix[a] as number)
      const add = small ? new Int32Array(from) : new Float64Array(from)
      for (let c = 0; c < from; c++) add[c] = (lift ? (lift[c] as number) : c) * weight
      return { codes: column, add }
    })
  const grouped = groupByKey(keyParts, space, entries, maxGroups)
  if (!grouped) return undefined
  const { into, first } = grouped
  const size = first.length
  const columns = codes.map((column, a) => {
    const out = new Int32Array(size)
    const lift = lifts[a]
    if (lift) for (let g = 0; g < size; g++) out[g] = lift[column[first[g] as number] as number] as number
    else for (let g = 0; g < size; g++) out[g] = column[first[g] as number] as number
    return out
  })
  return { into, columns, size }
}

/**
 * Columns of small attributes fused into one column of combined codes (each at most `limit`), for
 * the key passes over the distinct tuples: fewer and narrower columns to read for every node.
 */
export interface FusedColumns {
  readonly groups: ReadonlyArray<{
    readonly attributes: readonly number[]
    readonly codes: Uint16Array
    readonly sizes: readonly number[]
  }>
}

export function fuseColumns(
  columns: readonly Int32Array[],
  sizes: readonly number[],
  entries: number,
  limit: number,
): FusedColumns {
  const order = sizes.map((size, a) => ({ size, a })).sort((x, y) => y.size - x.size)
  const groups: Array<{ attributes: number[]; product: number }> = []
  for (const { size, a } of order) {
    const group = groups.find((g) => g.product * Math.max(size, 1) <= limit)
    if (group) {
      group.attributes.push(a)
      group.product *= Math.max(size, 1)
    } else groups.push({ attributes: [a], product: Math.max(size, 1) })
  }
  return {
    groups: groups.map((g) => {
      const codes = new Uint16Array(entries)
      const groupSizes = g.attributes.map((a) => Math.max(sizes[a] as number, 1))
      for (let i = 0; i < entries; i++) {
        let code = 0
        for (let j = 0; j < g.attributes.length; j++)
          code =
            code * (groupSizes[j] as number) +
            ((columns[g.attributes[j] as number] as Int32Array)[i] as number)
        codes[i] = code
      }
      return { attributes: g.attributes, codes, sizes: groupSizes }
    }),
  }
}

/** The histograms of target classes from the source classes' (`into[c]`: c's target). */
function mergeHistograms(
  source: Histograms,
  into: Int32Array,
  targets: number,
  valueCount: number,
): Histograms {
  // Source classes ordered by target (a counting sort), then each target's values summed densely.
  const order = new Int32Array(into.length)
  const first = new Int32Array(targets + 1)
  for (let c = 0; c < into.length; c++)
    first[(into[c] as number) + 1] = (first[(into[c] as number) + 1] as number) + 1
  for (let t = 0; t < targets; t++) first[t + 1] = (first[t + 1] as number) + (first[t] as number)
  const fill = first.slice(0, targets)
  for (let c = 0; c < into.length; c++) {
    const t = into[c] as number
    order[fill[t] as number] = c
    fill[t] = (fill[t] as number) + 1
  }
  const sum = new Int32Array(valueCount)
  const touched = new Int32Array(valueCount)
  const start = new Int32Array(targets + 1)
  let values = new Int32Array(Math.max(16, source.values.length))
  let counts = new Int32Array(values.length)
  let w = 0
  for (let t = 0; t < targets; t++) {
    let seen = 0
    for (let o = first[t] as number; o < (first[t + 1] as number); o++) {
      const c = order[o] as number
      for (let e = source.start[c] as number; e < (source.start[c + 1] as number); e++) {
        const v = source.values[e] as number
        if (sum[v] === 0) touched[seen++] = v
        sum[v] = (sum[v] as number) + (source.counts[e] as number)
      }
    }
    if (w + seen > values.length) {
      const grownValues = new Int32Array((w + seen) * 2)
      grownValues.set(values)
      values = grownValues
      const grownCounts = new Int32Array((w + seen) * 2)
      grownCounts.set(counts)
      counts = grownCounts
    }
    for (let s = 0; s < seen; s++) {
      const v = touched[s] as number
      values[w] = v
      counts[w++] = sum[v] as number
      sum[v] = 0
    }
    start[t + 1] = w
  }
  return { start, values: values.subarray(0, w), counts: counts.subarray(0, w) }
}

function sumCounts(into: Int32Array, weights: Int32Array | undefined, size: number): Int32Array {
  const counts = new Int32Array(size)
  for (let i = 0; i < into.length; i++) {
    const g = into[i] as number
    counts[g] = (counts[g] as number) + (weights ? (weights[i] as number) : 1)
  }
  return counts
}

/** The records grouped by their quasi-identifiers as they are (level 0 everywhere). */
export function baseClasses(
  qi: readonly Int32Array[],
  radix: readonly number[],
  sensitive: ReadonlyArray<{ readonly codes: Int32Array; readonly values: number }>,
  rows: number,
): BaseClasses {
  const {
    into: rowClass,
    columns,
    size,
  } = group(
    qi,
    qi.map(() => undefined),
    radix,
    rows,
  ) as NonNullable<ReturnType<typeof group>>
  // Each record is its own histogram entry first, then merged per class.
  const perRecord = {
    start: Int32Array.from({ length: rows + 1 }, (_, i) => i),
    counts: new Int32Array(rows).fill(1),
  }
  const histograms = sensitive.map((attribute) =>
    mergeHistograms({ ...perRecord, values: attribute.codes }, rowClass, size, attribute.values),
  )
  return {
    levels: qi.map(() => 0),
    size,
    columns,
    counts: sumCounts(rowClass, undefined, size),
    sensitive: histograms,
    rowClass,
  }
}

/**
 * The classes at `levels`, rolled up from classes at levels no higher in any quasi-identifier. Also
 * returns `into`: each source class's class at the new levels. With `maxClasses`, gives up (returns
 * undefined) as soon as there would be more classes than that.
 */
export function rollUp(
  source: Classes,
  levels: readonly number[],
  hierarchies: readonly Hierarchy[],
  sensitiveValues: readonly number[],
  maxClasses?: number,
  fused?: FusedColumns,
): { classes: Classes; into: Int32Array } | undefined {
  const lifts = hierarchies.map((h, a) =>
    (source.levels[a] as number) === (levels[a] as number)
      ? undefined
      : h.lift(source.levels[a] as number, levels[a] as number),
  )
  const radix = hierarchies.map((h, a) => (h.labels[levels[a] as number] as readonly string[]).length)
  // Over fused columns, each fused code adds the sum of its attributes' place values.
  let parts: KeyPart[] | undefined
  if (fused) {
    const { place, space } = places(radix)
    if (space <= Number.MAX_SAFE_INTEGER)
      parts = fused.groups.map((g) => {
        // The sum table as an outer sum of the attributes' own add tables, last attribute fastest.
        const own = g.attributes.map((a, j) => {
          const lift = lifts[a]
          const size = g.sizes[j] as number
          const out = new Float64Array(size)
          for (let c = 0; c < size; c++) out[c] = (lift ? (lift[c] as number) : c) * (place[a] as number)
          return out
        })
        let sums: Float64Array = own[own.length - 1] as Float64Array
        for (let j = own.length - 2; j >= 0; j--) {
          const outer = own[j] as Float64Array
          const next = new Float64Array(outer.length * sums.length)
          let w = 0
          for (let x = 0; x < outer.length; x++) {
            const base = outer[x] as number
            for (let y = 0; y < sums.length; y++) next[w++] = base + (sums[y] as number)
          }
          sums = next
        }
        const add = space < 2 ** 31 ? Int32Array.from(sums) : sums
        return { codes: g.codes, add }
      })
  }
  const grouped = group(source.columns, lifts, radix, source.size, maxClasses, parts)
  if (!grouped) return undefined
  const { into, columns, size } = grouped
  const sensitive = source.sensitive.map((histograms, s) =>
    mergeHistograms(histograms, into, size, sensitiveValues[s] as number),
  )
  return {
    classes: { levels: [...levels], size, columns, counts: sumCounts(into, source.counts, size), sensitive },
    into,
  }
}
