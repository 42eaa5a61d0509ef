/**
 * A small seeded random source (sfc32, seeded through a string hash). Every stream is named —
 * `new Random(seed, 'person', 42)` — so person 42 gets the same values whatever else was generated
 * before it: output is reproducible, and generation can stream in any order.
 */
export class Random {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor(...parts: Array<string | number>) {
    const h = seedHash(parts.join('\u0000'))
    this.#a = h[0] as number
    this.#b = h[1] as number
    this.#c = h[2] as number
    this.#d = h[3] as number
    for (let i = 0; i < 12; i++) this.next()
  }

  /** A float in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0
    this.#d = (this.#d + 1) | 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) | 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#c = (this.#c + t) | 0
    return (t >>> 0) / 4294967296
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[Math.floor(this.next() * items.length)] as T
  }

  /** An index drawn with the given cumulative weights (see `cumulative`). */
  weightedIndex(cumulativeWeights: Float64Array): number {
    const total = cumulativeWeights[cumulativeWeights.length - 1] as number
    const x = this.next() * total
    let lo = 0
    let hi = cumulativeWeights.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cumulativeWeights[mid] as number) > x) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** A normal deviate (Box–Muller). */
  normal(mean: number, sd: number): number {
    const u = 1 - this.next()
    const v = this.next()
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** `count` distinct items, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items]
    const out: T[] = []
    for (let i = 0; i < count && pool.length > 0; i++)
      out.push(pool.splice(this.int(0, pool.length - 1), 1)[0] as T)
    return out
  }

  /** `length` decimal digits. */
  digits(length: number): string {
    let out = ''
    for (let i = 0; i < length; i++) out += String(this.int(0, 9))
    return out
  }
}

export function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length)
  let sum = 0
  weights.forEach((w, i) => {
    sum += w
    out[i] = sum
  })
  return out
}

// cyrb128: four 32-bit words from a string, enough to seed sfc32.
function seedHash(text: string): [number, number, number, number] {
  let h1 = 1779033703
  let h2 = 3144134277
  let h3 = 1013904242
  let h4 = 2773480762
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i)
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
  h1 ^= h2 ^ h3 ^ h4
  h2 ^= h1
  h3 ^= h1
  h4 ^= h1
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0]
}
