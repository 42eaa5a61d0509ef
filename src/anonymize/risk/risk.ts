import { logChoose, logGamma, newton2 } from './special.js'

/**
 * Re-identification risk of a table from its equivalence classes (the records that share every
 * quasi-identifier's value). Three attackers, as El Emam and ARX define them:
 *
 * - prosecutor: knows the person is in the data; a record's risk is 1 / its class size;
 * - journalist: knows only that the person is in the population; a record's risk is 1 / the size of
 *   its class in the population, estimated from the sampling fraction π = n / N (F = f / π);
 * - marketer: re-identifies as many records as they can; the expected share re-identified.
 *
 * Uniqueness: the share of sample uniques (classes of one), and — given the population size — an
 * estimate of the population uniques by Zayatz's (1991), the SNB (Chen & Keller-McNulty 1998) and
 * the Pitman (Hoshino 2001) models, with Dankar et al.'s (2012) choice among them.
 */
export interface RiskOptions {
  /** Population size N (≥ n); without it the data are taken as the population. */
  readonly population?: number
  /** A record is "at risk" when its prosecutor risk exceeds this (default 0.2, i.e. classes < 5). */
  readonly threshold?: number
}

export interface AttackerRisk {
  readonly highest: number
  readonly average: number
  /** Share of records whose risk exceeds the threshold. */
  readonly recordsAtRisk: number
}

export interface PopulationUniqueness {
  readonly model: 'pitman' | 'zayatz' | 'snb' | 'none'
  /** Estimated population uniques among the population, and as a share of it. */
  readonly uniques: number
  readonly share: number
  readonly models: Readonly<Record<'pitman' | 'zayatz' | 'snb', number | null>>
}

export interface RiskReport {
  readonly records: number
  readonly classes: number
  readonly classSize: {
    readonly min: number
    readonly max: number
    readonly mean: number
    readonly median: number
  }
  /** Equivalence-class sizes in bands: how many classes and records in each. */
  readonly histogram: ReadonlyArray<{
    readonly size: string
    readonly classes: number
    readonly records: number
  }>
  readonly threshold: number
  readonly prosecutor: AttackerRisk
  readonly journalist: AttackerRisk
  readonly marketer: number
  readonly sampleUniques: number
  readonly samplingFraction: number
  readonly populationUniqueness?: PopulationUniqueness
}

const BANDS: ReadonlyArray<readonly [string, number, number]> = [
  ['1', 1, 1],
  ['2', 2, 2],
  ['3-4', 3, 4],
  ['5-9', 5, 9],
  ['10-19', 10, 19],
  ['20-49', 20, 49],
  ['50-99', 50, 99],
  ['100+', 100, Number.POSITIVE_INFINITY],
]

/** The risk figures of classes of these sizes (every size ≥ 1). */
export function assessRisk(sizes: ArrayLike<number>, options: RiskOptions = {}): RiskReport {
  const threshold = options.threshold ?? 0.2
  const classes = sizes.length
  const sorted = Float64Array.from(sizes).sort()
  let records = 0
  for (let c = 0; c < classes; c++) records += sorted[c] as number
  const population = Math.max(options.population ?? records, records)
  const pi = records === 0 ? 1 : records / population
  // Frequencies of class sizes: how many classes have size j.
  const ofSize = new Map<number, number>()
  for (let c = 0; c < classes; c++)
    ofSize.set(sorted[c] as number, (ofSize.get(sorted[c] as number) ?? 0) + 1)
  const attacker = (risk: (size: number) => number): AttackerRisk => {
    let highest = 0
    let sum = 0
    let atRisk = 0
    for (const [size, count] of ofSize) {
      const r = Math.min(1, risk(size))
      highest = Math.max(highest, r)
      sum += r * size * count
      if (r > threshold) atRisk += size * count
    }
    return {
      highest,
      average: records === 0 ? 0 : sum / records,
      recordsAtRisk: records === 0 ? 0 : atRisk / records,
    }
  }
  const uniques = ofSize.get(1) ?? 0
  const median =
    classes === 0
      ? 0
      : classes % 2 === 1
        ? (sorted[(classes - 1) / 2] as number)
        : ((sorted[classes / 2 - 1] as number) + (sorted[classes / 2] as number)) / 2
  return {
    records,
    classes,
    classSize: {
      min: classes === 0 ? 0 : (sorted[0] as number),
      max: classes === 0 ? 0 : (sorted[classes - 1] as number),
      mean: classes === 0 ? 0 : records / classes,
      median,
    },
    histogram: BANDS.map(([size, from, to]) => {
      let inBand = 0
      let recordsInBand = 0
      for (const [s, count] of ofSize)
        if (s >= from && s <= to) {
          inBand += count
          recordsInBand += s * count
        }
      return { size, classes: inBand, records: recordsInBand }
    }),
    threshold,
    prosecutor: attacker((size) => 1 / size),
    journalist: attacker((size) => pi / size),
    // Each class: the attacker matches its f records to F population members, f/F correct.
    marketer: records === 0 ? 0 : Math.min(1, (pi * classes) / records),
    sampleUniques: records === 0 ? 0 : uniques / records,
    samplingFraction: pi,
    populationUniqueness:
      options.population === undefined ? undefined : populationUniqueness(ofSize, records, population),
  }
}

/** Zayatz: the share of sample uniques that are population uniques, by Bayes over class sizes. */
function zayatz(
  ofSize: ReadonlyMap<number, number>,
  n: number,
  N: number,
  classes: number,
): number | undefined {
  const f1 = ofSize.get(1) ?? 0
  if (f1 === 0) return 0
  // P(a population class of size j shows as a sample unique): hypergeometric, one of j drawn.
  const pUnique = (j: number) => Math.exp(logChoose(j, 1) + logChoose(N - j, n - 1) - logChoose(N, n))
  let total = 0
  for (const [size, count] of ofSize) total += (count / classes) * pUnique(size)
  if (total <= 0) return undefined
  const conditional = ((f1 / classes) * pUnique(1)) / total
  return (f1 * conditional) / (n / N)
}

/** SNB: a shifted negative binomial prior on population class sizes, fitted to f₁ and f₂. */
function snb(ofSize: ReadonlyMap<number, number>, n: number, N: number, classes: number): number | undefined {
  const f1 = ofSize.get(1) ?? 0
  const f2 = ofSize.get(2) ?? 0
  const pi = n / N
  if (f1 === 0) return 0
  if (f2 === 0) return undefined
  // The number of non-empty population classes: Shlosser's estimator (Haas et al. 1995).
  let stay = 0
  let seen = 0
  for (const [size, count] of ofSize) {
    stay += (1 - pi) ** size * count
    seen += size * pi * (1 - pi) ** (size - 1) * count
  }
  const K = classes + (f1 * stay) / seen
  if (!Number.isFinite(K) || K <= 0) return undefined
  const equations = (alpha: number, beta: number): readonly [number, number] => {
    const dividend = (1 - pi) * (1 - beta)
    const one = K * pi * (beta / (1 - dividend)) ** alpha * ((alpha * dividend) / (1 - dividend) + 1) - f1
    const two =
      ((K * alpha * beta ** alpha * pi * pi * (1 - beta)) / (2 * (1 - dividend) ** (alpha + 2))) *
        (2 - (1 - alpha) * dividend) -
      f2
    return [one / Math.max(f1, 1), two / Math.max(f2, 1)]
  }
  const solution = newton2(equations, 1, 0.5, (alpha, beta) => alpha > 0 && beta > 0 && beta < 1)
  if (!solution) return undefined
  return K * solution.y ** solution.x
}

/** The maximum of a unimodal function on [low, high] by golden-section search. */
function goldenMax(f: (x: number) => number, low: number, high: number, steps = 80): number {
  const ratio = (Math.sqrt(5) - 1) / 2
  let a = low
  let b = high
  let c = b - ratio * (b - a)
  let d = a + ratio * (b - a)
  let fc = f(c)
  let fd = f(d)
  for (let i = 0; i < steps; i++) {
    if (fc > fd) {
      b = d
      d = c
      fd = fc
      c = b - ratio * (b - a)
      fc = f(c)
    } else {
      a = c
      c = d
      fc = fd
      d = a + ratio * (b - a)
      fd = f(d)
    }
  }
  return (a + b) / 2
}

/**
 * Pitman: the two-parameter Poisson–Dirichlet sampling formula, θ and α by maximum likelihood (the
 * profile likelihood maximized by golden-section search, which does not depend on a starting point
 * as Newton's method does); population uniques Γ(θ+1)/Γ(θ+α)·N^α (Hoshino 2001).
 */
function pitman(
  ofSize: ReadonlyMap<number, number>,
  n: number,
  N: number,
  classes: number,
): number | undefined {
  const u = classes
  if ((ofSize.get(1) ?? 0) === 0) return 0
  if (u < 2 || n < 2) return undefined
  const logLikelihood = (theta: number, alpha: number) => {
    let sizes = 0
    for (const [size, count] of ofSize)
      if (size > 1) sizes += count * (logGamma(size - alpha) - logGamma(1 - alpha))
    const classesPart =
      alpha === 0
        ? (u - 1) * Math.log(theta)
        : (u - 1) * Math.log(alpha) + logGamma(theta / alpha + u) - logGamma(theta / alpha + 1)
    return classesPart - (logGamma(theta + n) - logGamma(theta + 1)) + sizes
  }
  // θ > −α: searched as log(θ + α).
  const bestTheta = (alpha: number) =>
    Math.exp(goldenMax((t) => logLikelihood(Math.exp(t) - alpha, alpha), Math.log(1e-8), Math.log(1e9))) -
    alpha
  const alpha = goldenMax((a) => logLikelihood(bestTheta(a), a), 1e-6, 1 - 1e-6, 60)
  const theta = bestTheta(alpha)
  const estimate = Math.exp(logGamma(theta + 1) - logGamma(theta + alpha) + alpha * Math.log(N))
  return Number.isFinite(estimate) && estimate >= 0 && estimate <= N ? estimate : undefined
}

function populationUniqueness(
  ofSize: ReadonlyMap<number, number>,
  n: number,
  N: number,
): PopulationUniqueness {
  const classes = [...ofSize.values()].reduce((s, c) => s + c, 0)
  const clamp = (x: number | undefined) =>
    x === undefined || !Number.isFinite(x) ? null : Math.min(Math.max(x, 0), N)
  const models = {
    pitman: clamp(n < N ? pitman(ofSize, n, N, classes) : (ofSize.get(1) ?? 0)),
    zayatz: clamp(n < N ? zayatz(ofSize, n, N, classes) : (ofSize.get(1) ?? 0)),
    snb: clamp(n < N ? snb(ofSize, n, N, classes) : (ofSize.get(1) ?? 0)),
  }
  // Dankar et al.: Pitman for small sampling fractions, Zayatz otherwise; SNB when the other fails.
  const pi = n / N
  const order: Array<'pitman' | 'zayatz' | 'snb'> =
    pi <= 0.1 ? ['pitman', 'zayatz', 'snb'] : ['zayatz', 'pitman', 'snb']
  const model = order.find((m) => models[m] !== null)
  const uniques = model ? (models[model] as number) : 0
  return { model: model ?? 'none', uniques, share: N === 0 ? 0 : uniques / N, models }
}
