import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { generateSync } from 'otplib'
import { type Browser, chromium, type Page } from 'playwright-core'
import { expect } from 'vitest'

/**
 * A real browser for the console's end-to-end tests: Debian's Chromium (installed by .ci/run with
 * apt; Playwright downloads nothing), driven by playwright-core. Screenshots go to
 * test-artifacts/console/, axe-core checks every page it is asked to.
 */
const CANDIDATES = [process.env.TOKUMEI_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
  (p): p is string => !!p,
)

export const CHROMIUM: string | undefined = CANDIDATES.find((p) => existsSync(p))

export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'console')

export async function launchChromium(): Promise<Browser> {
  if (!CHROMIUM)
    throw new Error('no Chromium: install the Debian package chromium (apt-get install chromium)')
  return chromium.launch({
    executablePath: CHROMIUM,
    // As root the sandbox cannot start; the background services would only fail on the closed network.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

interface AxeResult {
  violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }>
}

/** axe-core over the page as it is now: no serious or critical violation (WCAG 2.1 A and AA rules). */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  await page.evaluate(AXE_SOURCE)
  const options = {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    resultTypes: ['violations'],
  }
  const result = (await page.evaluate(`axe.run(document, ${JSON.stringify(options)})`)) as AxeResult
  const serious = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
  expect(serious, `axe on ${what}`).toEqual([])
}

/** Screenshots, numbered in the order taken, under test-artifacts/console/<run>/. */
export function screenshots(run: string): (page: Page, name: string) => Promise<void> {
  const dir = join(ARTIFACTS, run)
  // One run's pictures: an earlier run's go.
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  let n = 0
  return async (page, name) => {
    n++
    await page.screenshot({ path: join(dir, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true })
  }
}

/** One-time codes, each at a time step its account has not used yet (a code is accepted once). */
export class Authenticator {
  readonly #secrets = new Map<string, string>()
  readonly #last = new Map<string, number>()

  add(username: string, secret: string): void {
    this.#secrets.set(username, secret)
  }

  async code(username: string): Promise<string> {
    const secret = this.#secrets.get(username)
    if (!secret) throw new Error(`no secret for ${username}`)
    for (;;) {
      const now = Math.floor(Date.now() / 30_000)
      const step = Math.max(now - 1, (this.#last.get(username) ?? -1) + 1)
      if (step <= now + 1) {
        this.#last.set(username, step)
        return generateSync({ secret, epoch: step * 30 })
      }
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  }
}
