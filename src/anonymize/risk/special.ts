/**
 * The special functions the population models need: log Γ, digamma ψ and trigamma ψ′, by the usual
 * recurrence up to x ≥ 6 and the asymptotic series there (accurate to ~1e-12 for x > 0), and a 2-D
 * Newton solver with a numerical Jacobian.
 */
export function logGamma(x: number): number {
  if (!(x > 0)) return Number.NaN
  if (x === Number.POSITIVE_INFINITY) return x
  let shift = 0
  while (x < 7) {
    shift -= Math.log(x)
    x += 1
  }
  const z = 1 / (x * x)
  const series =
    (x - 0.5) * Math.log(x) -
    x +
    0.5 * Math.log(2 * Math.PI) +
    (1 / x) * (1 / 12 - z * (1 / 360 - z * (1 / 1260 - z * (1 / 1680 - z / 1188))))
  return series + shift
}

export function digamma(x: number): number {
  if (!Number.isFinite(x) || (x <= 0 && Number.isInteger(x))) return Number.NaN
  // Reflection for negative arguments: ψ(1 − x) − ψ(x) = π cot(πx).
  if (x < 0) return digamma(1 - x) - Math.PI / Math.tan(Math.PI * x)
  let result = 0
  while (x < 6) {
    result -= 1 / x
    x += 1
  }
  const z = 1 / (x * x)
  return (
    result + Math.log(x) - 0.5 / x - z * (1 / 12 - z * (1 / 120 - z * (1 / 252 - z * (1 / 240 - z / 132))))
  )
}

export function trigamma(x: number): number {
  if (!Number.isFinite(x) || x <= 0) return Number.NaN
  let result = 0
  while (x < 6) {
    result += 1 / (x * x)
    x += 1
  }
  const z = 1 / (x * x)
  return result + 1 / x + z / 2 + (z / x) * (1 / 6 - z * (1 / 30 - z * (1 / 42 - z / 30)))
}

/** log of the binomial coefficient C(n, k). */
export function logChoose(n: number, k: number): number {
  if (k < 0 || k > n) return Number.NEGATIVE_INFINITY
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1)
}

/**
 * Solves f(x, y) = (0, 0) by Newton's method from (x0, y0), the Jacobian by central differences;
 * undefined when it does not converge or leaves the domain `valid`.
 */
export function newton2(
  f: (x: number, y: number) => readonly [number, number],
  x0: number,
  y0: number,
  valid: (x: number, y: number) => boolean,
  iterations = 200,
): { x: number; y: number } | undefined {
  let x = x0
  let y = y0
  for (let i = 0; i < iterations; i++) {
    const [f1, f2] = f(x, y)
    if (!Number.isFinite(f1) || !Number.isFinite(f2)) return undefined
    if (Math.abs(f1) < 1e-9 && Math.abs(f2) < 1e-9) return { x, y }
    const hx = Math.max(1e-7, Math.abs(x) * 1e-6)
    const hy = Math.max(1e-7, Math.abs(y) * 1e-6)
    const [a1, a2] = f(x + hx, y)
    const [b1, b2] = f(x - hx, y)
    const [c1, c2] = f(x, y + hy)
    const [d1, d2] = f(x, y - hy)
    const j11 = (a1 - b1) / (2 * hx)
    const j21 = (a2 - b2) / (2 * hx)
    const j12 = (c1 - d1) / (2 * hy)
    const j22 = (c2 - d2) / (2 * hy)
    const det = j11 * j22 - j12 * j21
    if (!Number.isFinite(det) || det === 0) return undefined
    let dx = (f1 * j22 - f2 * j12) / det
    let dy = (f2 * j11 - f1 * j21) / det
    // Damped: halve the step until it stays in the domain.
    let step = 0
    while (!valid(x - dx, y - dy) && step++ < 50) {
      dx /= 2
      dy /= 2
    }
    if (!valid(x - dx, y - dy)) return undefined
    x -= dx
    y -= dy
    if (Math.abs(dx) < 1e-12 * (1 + Math.abs(x)) && Math.abs(dy) < 1e-12 * (1 + Math.abs(y))) {
      const [g1, g2] = f(x, y)
      return Math.abs(g1) < 1e-6 * (1 + Math.abs(x)) && Math.abs(g2) < 1e-6 * (1 + Math.abs(y))
        ? { x, y }
        : undefined
    }
  }
  return undefined
}
