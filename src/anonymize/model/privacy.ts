import type { Hierarchy } from '../hierarchy/hierarchy.js'
import type { Classes, Histograms } from '../search/classes.js'

/**
 * The privacy models a class must satisfy: k-anonymity (at least k records), and per sensitive
 * attribute distinct or entropy ℓ-diversity (Machanavajjhala et al. 2007) and t-closeness with the
 * equal or the hierarchical ground distance (Li et al. 2007). A class that fails is suppressed when
 * the suppression limit allows.
 */
export interface DiversityModel {
  readonly variant: 'distinct' | 'entropy'
  readonly l: number
}

export interface ClosenessModel {
  readonly t: number
  readonly distance: 'equal' | 'hierarchical'
}

export interface SensitiveModel {
  readonly column: string
  /** The attribute's distinct values (its dictionary size). */
  readonly values: number
  /** Each value's share among all records (the reference distribution of t-closeness). */
  readonly overall: Float64Array
  readonly diversity?: DiversityModel
  readonly closeness?: ClosenessModel
  /** Needed by the hierarchical distance. */
  readonly hierarchy?: Hierarchy
}

export interface PrivacyModel {
  readonly k: number
  readonly sensitive: readonly SensitiveModel[]
}

/**
 * Whether failing classes' records can only decrease as classes merge, so that a node that fails
 * makes every node below it fail. k-anonymity and distinct ℓ-diversity are; entropy ℓ-diversity and
 * t-closeness are when nothing may be suppressed (the mixture of two passing classes passes), not
 * otherwise (a passing class merged with a failing one can fail, taking its records with it).
 */
export function isMonotone(model: PrivacyModel, maxSuppressed: number): boolean {
  if (maxSuppressed === 0) return true
  return model.sensitive.every((s) => s.closeness === undefined && s.diversity?.variant !== 'entropy')
}

/** Shannon entropy (natural log) of a class's histogram. */
export function entropyOf(histograms: Histograms, c: number, total: number): number {
  let h = 0
  for (let e = histograms.start[c] as number; e < (histograms.start[c + 1] as number); e++) {
    const p = (histograms.counts[e] as number) / total
    h -= p * Math.log(p)
  }
  return h
}

/** Variational distance between a class's distribution and the overall one (EMD, equal distance). */
export function equalDistance(
  histograms: Histograms,
  c: number,
  total: number,
  overall: Float64Array,
): number {
  // ½ Σ|p − q| over all values; values absent from the class contribute their q.
  let sum = 1
  for (let e = histograms.start[c] as number; e < (histograms.start[c + 1] as number); e++) {
    const q = overall[histograms.values[e] as number] as number
    const p = (histograms.counts[e] as number) / total
    sum += Math.abs(p - q) - q
  }
  return Math.max(0, sum / 2)
}

/**
 * Earth mover's distance with the hierarchical ground distance (Li et al. 2007): at every inner
 * node of the hierarchy, the mass that must cross it, min(positive, negative surplus of its
 * children), costs the node's level over the hierarchy's height.
 */
export function hierarchicalDistance(
  histograms: Histograms,
  c: number,
  total: number,
  overall: Float64Array,
  hierarchy: Hierarchy,
  scratch: HierarchicalScratch,
): number {
  const height = hierarchy.height
  if (height === 0) return equalDistance(histograms, c, total, overall)
  const leaves = scratch.extra[0] as Float64Array
  for (let v = 0; v < leaves.length; v++) leaves[v] = -(overall[v] as number)
  for (let e = histograms.start[c] as number; e < (histograms.start[c + 1] as number); e++) {
    const v = histograms.values[e] as number
    leaves[v] = (leaves[v] as number) + (histograms.counts[e] as number) / total
  }
  let cost = 0
  for (let level = 1; level <= height; level++) {
    const below = scratch.extra[level - 1] as Float64Array
    const above = scratch.extra[level] as Float64Array
    const positive = scratch.positive[level] as Float64Array
    const negative = scratch.negative[level] as Float64Array
    above.fill(0)
    positive.fill(0)
    negative.fill(0)
    const lift = scratch.lifts[level] as Int32Array
    for (let child = 0; child < below.length; child++) {
      const x = below[child] as number
      const parent = lift[child] as number
      above[parent] = (above[parent] as number) + x
      if (x > 0) positive[parent] = (positive[parent] as number) + x
      else negative[parent] = (negative[parent] as number) - x
    }
    let crossing = 0
    for (let parent = 0; parent < above.length; parent++)
      crossing += Math.min(positive[parent] as number, negative[parent] as number)
    cost += (level / height) * crossing
  }
  return cost
}

/** Work arrays of the hierarchical distance, over the sensitive attribute's own values. */
export interface HierarchicalScratch {
  readonly extra: Float64Array[]
  readonly positive: Float64Array[]
  readonly negative: Float64Array[]
  /** Level l−1 labels → level l labels; level 0 is the attribute's values (the column's codes). */
  readonly lifts: Int32Array[]
}

export function hierarchicalScratch(hierarchy: Hierarchy): HierarchicalScratch {
  const sizes = hierarchy.labels.map((l, level) =>
    level === 0 ? (hierarchy.map[0] as Int32Array).length : l.length,
  )
  const lifts: Int32Array[] = [new Int32Array(0)]
  for (let level = 1; level <= hierarchy.height; level++)
    lifts.push(level === 1 ? (hierarchy.map[1] as Int32Array) : hierarchy.lift(level - 1, level))
  return {
    extra: sizes.map((n) => new Float64Array(n)),
    positive: sizes.map((n) => new Float64Array(n)),
    negative: sizes.map((n) => new Float64Array(n)),
    lifts,
  }
}

/**
 * Marks the classes that fail the model (1 in `failing`) and returns the records in them: the
 * records that must be suppressed for this node to satisfy the model.
 */
export function failingRecords(
  classes: Classes,
  model: PrivacyModel,
  failing: Uint8Array,
  scratch: ReadonlyArray<HierarchicalScratch | undefined>,
): number {
  let suppressed = 0
  for (let c = 0; c < classes.size; c++) {
    const total = classes.counts[c] as number
    let fails = total < model.k
    for (let s = 0; !fails && s < model.sensitive.length; s++) {
      const attribute = model.sensitive[s] as SensitiveModel
      const histograms = classes.sensitive[s] as Histograms
      const diversity = attribute.diversity
      if (diversity) {
        const distinct = (histograms.start[c + 1] as number) - (histograms.start[c] as number)
        if (diversity.variant === 'distinct') fails = distinct < diversity.l
        else fails = entropyOf(histograms, c, total) < Math.log(diversity.l) - 1e-12
      }
      const closeness = attribute.closeness
      if (!fails && closeness) {
        const distance =
          closeness.distance === 'equal' || !attribute.hierarchy
            ? equalDistance(histograms, c, total, attribute.overall)
            : hierarchicalDistance(
                histograms,
                c,
                total,
                attribute.overall,
                attribute.hierarchy,
                scratch[s] as HierarchicalScratch,
              )
        fails = distance > closeness.t + 1e-12
      }
    }
    failing[c] = fails ? 1 : 0
    if (fails) suppressed += total
  }
  return suppressed
}
