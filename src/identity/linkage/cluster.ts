import type { LinkRecord } from './fields.js'

/**
 * Persons from scored pairs: the strongest links are joined first (union–find), and a join that
 * would put two different patient IDs of one institution into one person is refused unless the link
 * is very strong (`sameInstitutionWeight`) — that guard stops both chaining (A~B~C where A and C are
 * two patients of one hospital) and merges on weak evidence. Refused links are returned for review.
 */
export interface ScoredPair {
  readonly a: number
  readonly b: number
  readonly weight: number
}

export interface Clustering {
  /** Each record's cluster: the index of its cluster's representative. */
  readonly clusterOf: Int32Array
  /** Links above the threshold that the guard refused. */
  readonly refused: ScoredPair[]
}

export function clusterRecords(
  records: readonly LinkRecord[],
  links: readonly ScoredPair[],
  options: {
    sameInstitutionWeight: number
    /** Pairs a reviewer rejected: their records never end in one person, whatever links them. */
    cannotLink?: ReadonlyArray<readonly [number, number]>
  },
): Clustering {
  const parent = Int32Array.from(records, (_, i) => i)
  // Per cluster root, its records that have a cannot-link partner (few: reviewers' rejections).
  const cannot = new Map<number, number[]>()
  const partners = new Map<number, Set<number>>()
  for (const [x, y] of options.cannotLink ?? []) {
    for (const [p, q] of [
      [x, y],
      [y, x],
    ] as const) {
      const set = partners.get(p) ?? new Set<number>()
      set.add(q)
      partners.set(p, set)
      if (!cannot.has(p)) cannot.set(p, [p])
    }
  }
  const forbidden = (ra: number, rb: number) => {
    const left = cannot.get(ra)
    const right = cannot.get(rb)
    if (!left || !right) return false
    return left.some((x) => right.some((y) => partners.get(x)?.has(y)))
  }
  // Per cluster root: institution → its local keys (a person has one key per institution, normally).
  const members = new Map<number, Map<string, Set<string>>>()
  for (const record of records)
    members.set(record.index, new Map([[record.institution, new Set([record.localKey])]]))
  const find = (x: number): number => {
    let root = x
    while (parent[root] !== root) root = parent[root] as number
    while (parent[x] !== root) {
      const next = parent[x] as number
      parent[x] = root
      x = next
    }
    return root
  }
  const refused: ScoredPair[] = []
  const sorted = [...links].sort((p, q) => q.weight - p.weight)
  for (const link of sorted) {
    const ra = find(link.a)
    const rb = find(link.b)
    if (ra === rb) continue
    const ma = members.get(ra) as Map<string, Set<string>>
    const mb = members.get(rb) as Map<string, Set<string>>
    let conflict = false
    for (const [institution, keys] of mb) {
      const other = ma.get(institution)
      if (other && [...keys].some((k) => !other.has(k))) {
        conflict = true
        break
      }
    }
    if ((conflict && link.weight < options.sameInstitutionWeight) || forbidden(ra, rb)) {
      refused.push(link)
      continue
    }
    const [root, child] = ma.size >= mb.size ? [ra, rb] : [rb, ra]
    parent[child] = root
    const moving = cannot.get(child)
    if (moving) {
      cannot.set(root, [...(cannot.get(root) ?? []), ...moving])
      cannot.delete(child)
    }
    const into = members.get(root) as Map<string, Set<string>>
    for (const [institution, keys] of members.get(child) as Map<string, Set<string>>) {
      const set = into.get(institution)
      if (set) for (const k of keys) set.add(k)
      else into.set(institution, new Set(keys))
    }
    members.delete(child)
  }
  const clusterOf = new Int32Array(records.length)
  for (let i = 0; i < records.length; i++) clusterOf[i] = find(i)
  return { clusterOf, refused }
}
