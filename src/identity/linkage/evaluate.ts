/**
 * Linkage quality against a ground truth: pairwise precision, recall and F1 (over all pairs of
 * records put in one person), and B-cubed (per record, the overlap of its predicted and true
 * clusters). Both take a cluster label per record.
 */
export interface Scores {
  readonly precision: number
  readonly recall: number
  readonly f1: number
}

export interface Evaluation {
  readonly pairwise: Scores & { truePairs: number; predictedPairs: number; correctPairs: number }
  readonly bcubed: Scores
}

const f1 = (p: number, r: number) => (p + r === 0 ? 0 : (2 * p * r) / (p + r))
const pairsIn = (n: number) => (n * (n - 1)) / 2

/** Labels as dense integers 0…k−1. */
function dense(labels: ArrayLike<number | string>): { ids: Int32Array; sizes: number[] } {
  const index = new Map<number | string, number>()
  const ids = new Int32Array(labels.length)
  const sizes: number[] = []
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number | string
    let id = index.get(label)
    if (id === undefined) {
      id = sizes.length
      index.set(label, id)
      sizes.push(0)
    }
    ids[i] = id
    sizes[id] = (sizes[id] as number) + 1
  }
  return { ids, sizes }
}

export function evaluateClusters(
  predicted: ArrayLike<number | string>,
  truth: ArrayLike<number | string>,
): Evaluation {
  const n = predicted.length
  const p = dense(predicted)
  const t = dense(truth)
  const overlaps = new Map<number, number>()
  for (let i = 0; i < n; i++) {
    const key = (p.ids[i] as number) * t.sizes.length + (t.ids[i] as number)
    overlaps.set(key, (overlaps.get(key) ?? 0) + 1)
  }
  const predictedPairs = p.sizes.reduce((sum, size) => sum + pairsIn(size), 0)
  const truePairs = t.sizes.reduce((sum, size) => sum + pairsIn(size), 0)
  let correctPairs = 0
  // B-cubed: for record i, |pred(i) ∩ true(i)| / |pred(i)| and / |true(i)|, averaged over records.
  let bp = 0
  let br = 0
  for (const [key, overlap] of overlaps) {
    correctPairs += pairsIn(overlap)
    bp += (overlap * overlap) / (p.sizes[Math.floor(key / t.sizes.length)] as number)
    br += (overlap * overlap) / (t.sizes[key % t.sizes.length] as number)
  }
  const precision = predictedPairs === 0 ? 1 : correctPairs / predictedPairs
  const recall = truePairs === 0 ? 1 : correctPairs / truePairs
  const bPrecision = n === 0 ? 1 : bp / n
  const bRecall = n === 0 ? 1 : br / n
  return {
    pairwise: { precision, recall, f1: f1(precision, recall), truePairs, predictedPairs, correctPairs },
    bcubed: { precision: bPrecision, recall: bRecall, f1: f1(bPrecision, bRecall) },
  }
}
