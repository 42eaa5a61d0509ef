import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { parse } from 'csv-parse/sync'
import type { FastifyInstance } from 'fastify'
import { generateSync } from 'otplib'
import pino from 'pino'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { pseudonym } from '../src/anonymize/index.js'
import { selectCohort } from '../src/clinical/index.js'
import { type Config, loadConfig } from '../src/config/index.js'
import { localPatientHash } from '../src/identity/index.js'
import { rotateInstitutionKey } from '../src/intake/index.js'
import type { Worker } from '../src/jobs/index.js'
import {
  decryptPackage,
  generateRecipientKeys,
  releaseKey,
  untar,
  verifyPackage,
} from '../src/release/index.js'
import { type DemoReport, runDemo } from '../src/runtime/demo.js'
import { authContext, createWorker, openRuntime, type Runtime } from '../src/runtime/index.js'
import { createAccount, setUpAccount } from '../src/security/index.js'
import { buildServer } from '../src/server/index.js'
import { ja } from '../web/src/locales/ja.js'
import { Authenticator, CHROMIUM, expectAccessible, launchChromium, screenshots } from './support/browser.js'
import { runCli } from './support/cli.js'
import { createServerDatabase, dialects } from './support/database.js'
import { SHARED_DATA } from './support/files.js'

/**
 * The web console in a real browser (Debian's Chromium through playwright-core), against the
 * server and its workers on the demo's data, as the agency's people use it: sign-in with TOTP, a
 * linkage review, a project approved by two reviewers and contracted, a release built with a live
 * cohort count and downloaded by its recipient, and a patient's opt-out from the public page that
 * leaves them out of the next release. Every page visited is checked by axe-core and photographed.
 * On both dialects.
 */
const PASSWORD = 'console e2e password 2026'
const DEMO_PASSWORD = 'tokumei demo password 2026'
const SPEC = `title: "e2e: 糖尿病患者の病名"
cohort:
  conditions: [E11]
tables: [persons, conditions]
formats: [csv]
`
const csv = (path: string): string[][] => parse(readFileSync(path, 'utf8')) as string[][]
const column = (path: string, name: string): string[] => {
  const [header, ...rows] = csv(path)
  const i = (header as string[]).indexOf(name)
  return rows.map((r) => r[i] as string)
}

// In CI the browser must be there (.ci/run installs it); elsewhere a machine without it skips.
const runnable = !!CHROMIUM || process.env.CI === 'true'

for (const dialect of dialects()) {
  describe.skipIf(!runnable)(`[${dialect}] the web console in a browser`, () => {
    let dir: string
    let config: Config
    let report: DemoReport
    let runtime: Runtime
    let app: FastifyInstance
    let worker: Worker
    let working: Promise<unknown>
    let browser: Browser
    let base: string
    let logs = ''
    let drop: (() => Promise<void>) | undefined
    const auth = new Authenticator()
    const shot = screenshots(dialect)
    const contexts: BrowserContext[] = []
    const pageErrors: string[] = []
    const recipient = generateRecipientKeys()
    const state: { project?: string; firstRelease?: string; cohort?: number } = {}

    /** A fresh browser profile (its own cookies), in Japanese, in Tokyo. */
    const open = async (): Promise<Page> => {
      const context = await browser.newContext({
        locale: 'ja-JP',
        timezoneId: 'Asia/Tokyo',
        acceptDownloads: true,
      })
      contexts.push(context)
      const page = await context.newPage()
      page.on('pageerror', (error) => pageErrors.push(error.message))
      return page
    }

    const signIn = async (username: string, password = PASSWORD): Promise<Page> => {
      const page = await open()
      await page.goto(`${base}/`)
      await page.getByLabel(ja.login.username).fill(username)
      await page.getByLabel(ja.login.password).fill(password)
      await page.getByLabel(ja.login.code).fill(await auth.code(username))
      await page.getByRole('button', { name: ja.login.submit }).click()
      await page.getByRole('button', { name: ja.app.signOut }).waitFor()
      return page
    }

    const account = async (username: string, roles: string[]) => {
      const context = authContext(runtime)
      const { code } = await createAccount(context, { username, roles, actor: 'os:tester@core' })
      const { secret } = await setUpAccount(context, { username, code, password: PASSWORD })
      auth.add(username, secret)
    }

    /** The release a finished build made, from the job's notice, once the build is done. */
    const buildFromEditor = async (page: Page, project: string): Promise<{ id: string; count: number }> => {
      await page.goto(`${base}/#/releases/new?project=${project}`)
      await page.getByRole('heading', { name: ja.releases.builder }).waitFor()
      await page.getByLabel(ja.releases.project).selectOption(project)
      // The demo's stored policy with k = 10, besides the default.
      await page.getByLabel(ja.releases.policy).selectOption('k10')
      await page.getByLabel(ja.releases.spec).fill(SPEC)
      const count = page.locator('output.count')
      await expect
        .poll(async () => (await count.textContent()) ?? '', { timeout: 30_000 })
        .toMatch(/対象者: [\d,]+ 人/)
      const shown = Number(((await count.textContent()) ?? '').replace(/[^\d]/g, ''))
      await page.getByRole('button', { name: ja.releases.run }).click()
      const built = page.getByRole('status').filter({ hasText: 'を作成しました' })
      await built.waitFor({ timeout: 300_000 })
      const id = /R-\d{8}-[0-9a-f]{8}/.exec((await built.textContent()) ?? '')?.[0] as string
      return { id, count: shown }
    }

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'tk-console-'))
      // More pairs go to a reviewer than by default, so that the demo's data has some to review.
      const env: Record<string, string> = {
        TOKUMEI_DATA_DIR: join(dir, 'demo', 'data'),
        TOKUMEI_LINK_WEIGHT: '8',
        TOKUMEI_JOBS_POLL_MS: '100',
        // Every person of this test signs in from 127.0.0.1, many within a minute.
        TOKUMEI_SIGN_INS_PER_MINUTE: '100',
      }
      if (dialect === 'postgres') {
        const server = await createServerDatabase()
        drop = server.drop
        env.DATABASE_URL = server.url
      }
      config = loadConfig({ env, cwd: dir })
      report = await runDemo(config, {
        out: join(dir, 'demo'),
        persons: 300,
        hospitals: 2,
        seed: 'console-e2e',
        sharedDataDir: SHARED_DATA,
      })
      runtime = await openRuntime(config, { actor: 'os:tester@core' })
      auth.add(report.login.username, report.login.totpSecret)
      await account('e2e.linker', ['linkage_reviewer'])
      await account('e2e.researcher', ['researcher'])
      await account('e2e.reviewer1', ['reviewer'])
      await account('e2e.reviewer2', ['reviewer'])
      await account('e2e.engineer', ['anonymization_engineer'])
      const sink = new Writable({
        write(chunk, _encoding, done) {
          logs += chunk
          done()
        },
      })
      app = await buildServer(runtime, { logger: pino({ level: 'trace' }, sink) })
      base = await app.listen({ host: '127.0.0.1', port: 0 })
      worker = createWorker(runtime)
      working = worker.run()
      browser = await launchChromium()
    }, 900_000)

    afterAll(async () => {
      for (const context of contexts) await context.close().catch(() => {})
      await browser?.close()
      worker?.stop()
      await working
      await app?.close()
      await runtime?.close()
      await drop?.()
      rmSync(dir, { recursive: true, force: true })
    })

    // A script error on any page fails the test that opened it.
    afterEach(() => {
      expect(pageErrors.splice(0)).toEqual([])
    })

    it('signs in with the TOTP second factor; a wrong code is refused; Japanese first, English on request', async () => {
      const page = await open()
      await page.goto(`${base}/`)
      await expect.poll(() => page.evaluate('document.documentElement.lang')).toBe('ja')
      await page.getByRole('heading', { name: ja.login.title }).waitFor()
      // By keyboard: the first Tab reaches the skip button, which moves the focus to the content.
      await page.keyboard.press('Tab')
      expect(await page.evaluate('document.activeElement.textContent')).toBe(ja.app.skip)
      await page.keyboard.press('Enter')
      expect(await page.evaluate('document.activeElement.id')).toBe('main')
      await expectAccessible(page, 'the sign-in page')
      await shot(page, 'sign-in')
      await page.getByLabel(ja.login.username).fill(report.login.username)
      await page.getByLabel(ja.login.password).fill(DEMO_PASSWORD)
      await page.getByLabel(ja.login.code).fill('000000')
      await page.getByRole('button', { name: ja.login.submit }).click()
      await expect(page.getByRole('alert').textContent()).resolves.toContain(ja.errors['auth.failed'])
      // `tokumei demo code` tells the demo's code, as an authenticator app would.
      const told = await runCli(['demo', 'code', '--out', join(dir, 'demo'), '--json'], { cwd: dir })
      expect(told.code, told.stderr).toBe(0)
      const now = Math.floor(Date.now() / 30_000)
      expect(
        [now - 1, now].map((step) => generateSync({ secret: report.login.totpSecret, epoch: step * 30 })),
      ).toContain(JSON.parse(told.stdout).code)
      await page.getByLabel(ja.login.code).fill(await auth.code(report.login.username))
      // Enter in the code field signs in, as in any form.
      await page.getByLabel(ja.login.code).press('Enter')
      await page.getByRole('heading', { name: ja.dashboard.title }).waitFor()
      // Today's two submissions (one per hospital) and the quarantine's count, from the store.
      const card = page.locator('.cards li').filter({ hasText: ja.dashboard.submissionsToday })
      await expect.poll(async () => (await card.locator('.figure').textContent()) ?? '').toBe('2')
      await expectAccessible(page, 'the dashboard')
      await shot(page, 'dashboard')
      await page.getByRole('button', { name: 'English' }).click()
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
      expect(await page.evaluate('document.documentElement.lang')).toBe('en')
      await shot(page, 'dashboard-en')
      await page.getByRole('button', { name: '日本語' }).click()
      await page.getByRole('heading', { name: ja.dashboard.title }).waitFor()
      // The menu holds the administrator's pages, and not the linkage review (personal data).
      const menu = page.getByRole('navigation', { name: ja.app.menu })
      await expect(menu.getByRole('link', { name: ja.nav.releases }).count()).resolves.toBe(1)
      await expect(menu.getByRole('link', { name: ja.nav.linkage }).count()).resolves.toBe(0)
      for (const [path, heading, name] of [
        ['/institutions', ja.institutions.title, 'institutions'],
        ['/optouts', ja.optouts.title, 'opt-outs'],
        ['/audit', ja.audit.title, 'audit'],
      ] as const) {
        await page.goto(`${base}/#${path}`)
        await page.getByRole('heading', { name: heading, exact: true }).waitFor()
        await page.waitForLoadState('networkidle')
        await expectAccessible(page, `the ${name} page`)
        await shot(page, name)
      }
      // The holdings page draws each institution's months from the store.
      await page.goto(`${base}/#/institutions`)
      await page.getByRole('heading', { name: ja.institutions.title }).waitFor()
      await expect.poll(() => page.locator('figure.chart svg').count(), { timeout: 20_000 }).toBe(4)
    })

    it('a linkage reviewer decides a pair side by side; the showing is audited; no one else sees it', async () => {
      const waiting = await runtime.db.kysely
        .selectFrom('identity.link_pair')
        .select(['a_ref', 'b_ref'])
        .where('state', '=', 'review')
        .orderBy('weight', 'desc')
        .execute()
      expect(waiting.length).toBeGreaterThan(0)
      const [first] = waiting as [{ a_ref: number; b_ref: number }]
      const page = await signIn('e2e.linker')
      await page.goto(`${base}/#/linkage`)
      await page.getByRole('heading', { name: ja.linkage.title }).waitFor()
      await expectAccessible(page, 'the linkage queue')
      await shot(page, 'linkage-queue')
      await page.getByRole('link', { name: `${first.a_ref} と ${first.b_ref} を確認` }).click()
      const table = page.getByRole('table', { name: ja.linkage.comparison })
      await table.waitFor()
      // One row per compared field, both sides shown (the names come from the vault).
      await expect(table.locator('tbody tr').count()).resolves.toBe(7)
      const views = await runtime.db.kysely
        .selectFrom('audit.event')
        .select(['actor'])
        .where('action', '=', 'identity.view')
        .where('target', '=', `pair:${first.a_ref}-${first.b_ref}`)
        .execute()
      expect(views.map((v) => v.actor)).toContain('account:e2e.linker')
      await expectAccessible(page, 'the pair view')
      await shot(page, 'linkage-pair')
      await page.getByRole('button', { name: ja.linkage.accept }).click()
      await page.getByRole('status').filter({ hasText: ja.linkage.states.accepted }).waitFor()
      const decided = await runtime.db.kysely
        .selectFrom('identity.link_pair')
        .select(['state', 'decided_by'])
        .where('a_ref', '=', first.a_ref)
        .where('b_ref', '=', first.b_ref)
        .executeTakeFirstOrThrow()
      expect(decided).toEqual({ state: 'accepted', decided_by: 'account:e2e.linker' })
      // An engineer opening the same address gets neither the page nor the data; the refusal is audited.
      const other = await signIn('e2e.engineer')
      await other.goto(`${base}/#/linkage/${first.a_ref}/${first.b_ref}`)
      await other.getByRole('heading', { name: ja.app.notHere }).waitFor()
      const refused = await other.request.get(`${base}/api/core/v1/link/pairs/${first.a_ref}/${first.b_ref}`)
      expect(refused.status()).toBe(403)
      const denied = await runtime.db.kysely
        .selectFrom('audit.event')
        .select('actor')
        .where('action', '=', 'access.denied')
        .where('actor', '=', 'account:e2e.engineer')
        .execute()
      expect(denied.length).toBeGreaterThan(0)
    })

    it('a researcher applies; two reviewers approve with fresh codes; the administrator signs the contract', async () => {
      const researcher = await signIn('e2e.researcher')
      await researcher.goto(`${base}/#/projects/new`)
      await researcher.getByRole('heading', { name: ja.projects.applyTitle }).waitFor()
      await researcher.getByLabel(ja.projects.titleField).fill('e2e: 2型糖尿病の合併症の研究')
      await researcher.getByLabel(ja.projects.organisation).fill('架空大学 医学研究科')
      await researcher.getByLabel(ja.projects.investigator).fill('研究 太郎')
      await researcher.getByLabel(ja.projects.purposes.research).check()
      await researcher.getByLabel(ja.projects.items).fill('年齢\n性別\n病名')
      await researcher.getByLabel(ja.projects.cohort).fill('2型糖尿病の患者')
      await researcher.getByLabel(ja.projects.from, { exact: true }).fill('2026-01-01')
      await researcher.getByLabel(ja.projects.to, { exact: true }).fill('2027-12-31')
      await researcher.getByLabel(ja.projects.security).fill('閉域の解析環境\n利用者の限定')
      await expectAccessible(researcher, 'the application form')
      await shot(researcher, 'application')
      await researcher.getByRole('button', { name: ja.projects.submitApplication }).click()
      await researcher.getByRole('heading', { name: /^P-\d{4}-\d{4,} / }).waitFor()
      const code = /P-\d{4}-\d{4,}/.exec(
        (await researcher.getByRole('heading', { level: 1 }).textContent()) ?? '',
      )?.[0]
      expect(code).toBeDefined()
      state.project = code as string

      for (const [n, reviewer] of ['e2e.reviewer1', 'e2e.reviewer2'].entries()) {
        const page = await signIn(reviewer)
        await page.goto(`${base}/#/projects/${code}`)
        await page.getByRole('heading', { name: ja.projects.yourReview }).waitFor()
        await page.getByLabel(ja.projects.decisions.approve).check()
        await page.getByLabel(ja.projects.comment).fill('e2e: 承認')
        await page.getByLabel(ja.login.code).fill(await auth.code(reviewer))
        if (n === 0) await expectAccessible(page, 'the review form')
        await page.getByRole('button', { name: ja.projects.recordReview }).click()
        const expected = n === 0 ? ja.projects.states.submitted : ja.projects.states.approved
        await page.getByRole('status').filter({ hasText: expected }).waitFor()
        await shot(page, `review-${n + 1}`)
      }
      const project = await runtime.db.kysely
        .selectFrom('governance.project')
        .select('state')
        .where('code', '=', code as string)
        .executeTakeFirstOrThrow()
      expect(project.state).toBe('approved')

      const admin = await signIn(report.login.username, DEMO_PASSWORD)
      await admin.goto(`${base}/#/projects/${code}`)
      await admin.getByRole('heading', { name: ja.projects.signContract }).waitFor()
      await admin.getByLabel(ja.projects.recipientName).fill('研究 太郎')
      await admin.getByLabel(ja.projects.recipientKey).fill(recipient.publicKeyPem)
      await admin.getByLabel(ja.projects.sharing).fill('研究チーム内に限る')
      await admin.getByLabel(ja.projects.starts).fill('2026-01-01')
      await admin.getByLabel(ja.projects.ends).fill('2027-12-31')
      await admin.getByLabel(ja.projects.destroyBy).fill('2028-12-31')
      await expectAccessible(admin, 'the contract form')
      await admin.getByRole('button', { name: ja.projects.sign, exact: true }).click()
      await admin.getByRole('heading', { name: new RegExp(`^${ja.projects.contract} C-`) }).waitFor()
      await shot(admin, 'contract')
      const contract = await runtime.db.kysely
        .selectFrom('governance.contract as c')
        .innerJoin('governance.project as p', 'p.id', 'c.project_id')
        .select(['c.state', 'c.bans'])
        .where('p.code', '=', code as string)
        .executeTakeFirstOrThrow()
      expect(contract.state).toBe('active')
      // The researcher's own portal shows the application and its contract.
      await researcher.goto(`${base}/#/my`)
      await researcher.getByRole('heading', { name: ja.researcher.title }).waitFor()
      await researcher.getByRole('link', { name: code as string }).waitFor()
      await expectAccessible(researcher, "the researchers' portal")
    })

    it('an engineer builds a release with a live cohort count and the report; the recipient downloads it', async () => {
      const code = state.project as string
      expect(code).toBeDefined()
      const page = await signIn('e2e.engineer')
      const { id, count } = await buildFromEditor(page, code)
      // The live count is the store's: persons with an E11 condition, withheld ones left out.
      const cohort = await selectCohort(runtime.db.kysely, { conditions: ['E11'] })
      expect(count).toBe(cohort.persons.size)
      expect(count).toBeGreaterThan(10)
      await expectAccessible(page, 'the release builder')
      await shot(page, 'release-builder')
      state.firstRelease = id
      state.cohort = count
      await page.getByRole('link', { name: ja.releases.openReport }).click()
      await page.getByRole('heading', { name: ja.releases.report }).waitFor()
      // The five statutory measures, each with its evidence; the class sizes; the risk figures.
      const measures = page.locator('section[aria-labelledby="report"] table').first()
      await expect(measures.locator('tbody tr').count()).resolves.toBe(5)
      await page.getByRole('figure').filter({ hasText: ja.releases.histogram }).locator('svg').waitFor()
      await expect(
        page.getByRole('row', { name: new RegExp(ja.releases.attackers.prosecutor) }).count(),
      ).resolves.toBe(1)
      await expectAccessible(page, 'the release report')
      await shot(page, 'release-report')

      await page.getByRole('button', { name: ja.releases.deliver }).click()
      const link = page.getByTestId('download-link')
      await link.waitFor()
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()])
      const sealed = readFileSync(await download.path())
      const { archive } = decryptPackage(sealed, recipient.privateKeyPem)
      const out = join(dir, 'received', id)
      await untar(archive, out)
      const verification = await verifyPackage(out)
      expect(verification.ok).toBe(true)
      // Everyone of the cohort but those the policy suppressed (at most 5 %).
      const persons = column(join(out, 'persons.csv'), 'person').length
      expect(persons).toBeLessThanOrEqual(count)
      expect(persons).toBeGreaterThanOrEqual(Math.floor(count * 0.95))
      // Each download through the link is counted against its limit.
      const delivery = await runtime.db.kysely
        .selectFrom('governance.delivery')
        .select(['downloads'])
        .where('release_id', '=', id)
        .executeTakeFirstOrThrow()
      expect(delivery.downloads).toBe(1)
      await shot(page, 'delivered')
      const researcher = await signIn('e2e.researcher')
      await researcher.goto(`${base}/#/my`)
      await researcher.getByRole('cell', { name: id }).waitFor()
    })

    it('a patient opts out on the public page and is absent from the next release', async () => {
      const first = state.firstRelease as string
      expect(first).toBeDefined()
      const row = await runtime.db.kysely
        .selectFrom('governance.release')
        .select('dir')
        .where('id', '=', first)
        .executeTakeFirstOrThrow()
      const released = new Set(column(join(row.dir as string, 'persons.csv'), 'person'))
      // A released person's patient at one hospital, as the synthetic truth knows them.
      const truth = csv(join(dir, 'demo', 'synth', 'truth', 'persons.csv')).slice(1)
      let chosen: { institution: string; localId: string; personId: number; ref: number } | undefined
      for (const [, institution, localId] of truth) {
        const found = await runtime.db.kysely
          .selectFrom('identity.patient as v')
          .innerJoin('clinical.patient_person as pp', 'pp.patient_ref', 'v.patient_ref')
          .select(['pp.person_id', 'v.patient_ref'])
          .where(
            'v.local_hash',
            '=',
            localPatientHash(runtime.keyring, institution as string, localId as string),
          )
          .executeTakeFirst()
        const born = found
          ? await runtime.db.kysely
              .selectFrom('clinical.patient')
              .select('birth_date')
              .where('patient_ref', '=', found.patient_ref)
              .executeTakeFirst()
          : undefined
        if (
          found &&
          born?.birth_date &&
          released.has(pseudonym(releaseKey(runtime.keyring, first), String(found.person_id)))
        ) {
          chosen = {
            institution: institution as string,
            localId: localId as string,
            personId: found.person_id,
            ref: found.patient_ref,
          }
          break
        }
      }
      expect(chosen).toBeDefined()
      const patient = chosen as NonNullable<typeof chosen>
      const facts = await runtime.db.kysely
        .selectFrom('clinical.patient as c')
        .innerJoin('governance.institution as i', 'i.id', 'c.institution_id')
        .select(['c.birth_date', 'i.name'])
        .where('c.patient_ref', '=', patient.ref)
        .executeTakeFirstOrThrow()

      const page = await open()
      await page.goto(`${base}/#/patients`)
      await page.getByRole('heading', { name: ja.patients.title }).waitFor()
      await page.getByLabel(ja.patients.institution).selectOption({ label: facts.name })
      await expectAccessible(page, "the patients' page")
      await shot(page, 'patients')
      // Typed as a patient may: the ID in full-width digits.
      const fullWidth = patient.localId.replace(/[0-9]/g, (d) =>
        String.fromCharCode(d.charCodeAt(0) + 0xfee0),
      )
      await page.getByLabel(ja.patients.patientId).fill(fullWidth)
      await page.getByLabel(ja.patients.birthDate).fill(facts.birth_date as string)
      await page.getByRole('button', { name: ja.patients.next }).click()
      await page.getByRole('heading', { name: ja.patients.confirmTitle }).waitFor()
      await shot(page, 'patients-confirm')
      await page.getByRole('button', { name: ja.patients.send }).click()
      const receipt = (await page.getByTestId('receipt').textContent()) as string
      expect(receipt).toMatch(/^OR-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/)
      await shot(page, 'patients-received')
      // The request waits for the core's job; the page tells the state by the receipt number alone.
      await page.getByLabel(ja.patients.receipt).fill(receipt.toLowerCase())
      await expect
        .poll(
          async () => {
            await page.getByRole('button', { name: ja.patients.check }).click()
            return (await page.locator('.notice .badge').last().textContent()) ?? ''
          },
          { timeout: 60_000, interval: 500 },
        )
        .toBe(ja.patients.states.registered)
      await shot(page, 'patients-registered')
      const stored = await runtime.db.kysely
        .selectFrom('identity.patient')
        .select('patient_ref')
        .where('patient_ref', '=', patient.ref)
        .execute()
      expect(stored).toEqual([])

      // The staff's registry shows the request and the refusal with where it reached.
      const admin = await signIn(report.login.username, DEMO_PASSWORD)
      await admin.goto(`${base}/#/optouts`)
      await admin.getByRole('cell', { name: receipt }).waitFor()
      await shot(admin, 'opt-outs-after')

      // The next release of the same spec leaves the person out: the cohort is one person smaller.
      const engineer = await signIn('e2e.engineer')
      const next = await buildFromEditor(engineer, state.project as string)
      expect(next.count).toBe((state.cohort as number) - 1)
      const again = await runtime.db.kysely
        .selectFrom('governance.release')
        .select('dir')
        .where('id', '=', next.id)
        .executeTakeFirstOrThrow()
      const nextPersons = new Set(column(join(again.dir as string, 'persons.csv'), 'person'))
      expect(nextPersons.has(pseudonym(releaseKey(runtime.keyring, next.id), String(patient.personId)))).toBe(
        false,
      )
      expect(nextPersons.size).toBeLessThanOrEqual(next.count)

      // The patient's ID reached no log, no audit event, no job and no stored request in clear.
      const audit = await runtime.db.kysely
        .selectFrom('audit.event')
        .select(['actor', 'target', 'detail'])
        .execute()
      const jobs = await runtime.db.kysely
        .selectFrom('jobs.job')
        .select(['payload', 'result', 'last_error'])
        .execute()
      const requests = await runtime.db.kysely
        .selectFrom('governance.optout_request')
        .select(['receipt', 'status'])
        .execute()
      for (const text of [logs, JSON.stringify(audit), JSON.stringify(jobs), JSON.stringify(requests)]) {
        expect(text).not.toContain(patient.localId)
        expect(text).not.toContain(fullWidth)
      }
    })

    it('tabulates a statistic with the query builder and marks the suppressed cells', async () => {
      const page = await signIn('e2e.engineer')
      await page.goto(`${base}/#/statistics?project=${state.project}`)
      await page.getByRole('heading', { name: ja.statistics.title }).waitFor()
      await page.getByLabel(ja.releases.project).selectOption(state.project as string)
      await page.getByLabel(ja.statistics.conditions).fill('E11')
      await expectAccessible(page, 'the statistics console')
      await page.getByRole('button', { name: ja.statistics.run }).click()
      const table = page.locator('table.stats')
      await table.waitFor({ timeout: 120_000 })
      const summary = (await page.getByText(/一次秘匿/).textContent()) ?? ''
      const [, primary, secondary] = /一次秘匿 (\d+) セル、二次秘匿 (\d+) セル/.exec(summary) ?? []
      // The table on the screen is the package's table, every suppressed cell marked as such.
      const id = /R-\d{8}-[0-9a-f]{8}/.exec(
        (await page.getByRole('heading', { name: /集計結果/ }).textContent()) ?? '',
      )?.[0]
      const release = await runtime.db.kysely
        .selectFrom('governance.release')
        .select('dir')
        .where('id', '=', id as string)
        .executeTakeFirstOrThrow()
      const [, ...rows] = csv(join(release.dir as string, 'table.csv'))
      const shown = await table
        .locator('tbody tr')
        .evaluateAll((trs) =>
          trs.map((tr) =>
            [...tr.querySelectorAll('td')].map((td) =>
              td.classList.contains('suppressed') ? 'x' : (td.textContent ?? ''),
            ),
          ),
        )
      expect(shown).toEqual(rows)
      const marked = await table.locator('td.suppressed').count()
      expect(marked).toBe(Number(primary) + Number(secondary))
      expect(marked).toBeGreaterThan(0)
      await shot(page, 'statistics')
    })

    it('an institution reads its submissions, their signed receipts and its holdings with its API key', async () => {
      const hospital = await runtime.db.kysely
        .selectFrom('governance.institution')
        .select(['code', 'name'])
        .orderBy('code')
        .executeTakeFirstOrThrow()
      const { key } = await rotateInstitutionKey(runtime.db.kysely, hospital.code, { revokeOthers: false })
      const page = await open()
      await page.goto(`${base}/#/institution`)
      await page.getByRole('heading', { name: ja.institution.title }).waitFor()
      await page.getByLabel(ja.institution.key).fill(key.apiKey)
      await page.getByRole('button', { name: ja.institution.show }).click()
      await page.getByRole('heading', { name: `${hospital.name} の保有状況` }).waitFor()
      const submission = await runtime.db.kysely
        .selectFrom('intake.submission as s')
        .innerJoin('governance.institution as i', 'i.id', 's.institution_id')
        .select('s.id')
        .where('i.code', '=', hospital.code)
        .executeTakeFirstOrThrow()
      await page.getByRole('button', { name: `受付 ${submission.id} の受領記録` }).click()
      const receipt = await runtime.db.kysely
        .selectFrom('intake.receipt')
        .select('body')
        .where('submission_id', '=', submission.id)
        .executeTakeFirstOrThrow()
      // The receipt's digest as the gateway signed it.
      await page.getByText(String(receipt.body.sha256)).waitFor()
      await expectAccessible(page, "the institutions' page")
      await shot(page, 'institution')
      // A wrong key is one clear refusal, and nothing of the institution stays on the page.
      await page.getByLabel(ja.institution.key).fill('tkm_not-a-key')
      await page.getByRole('button', { name: ja.institution.show }).click()
      await page.getByRole('alert').waitFor()
      await expect(page.getByRole('heading', { name: `${hospital.name} の保有状況` }).count()).resolves.toBe(
        0,
      )
    })

    it('a security officer blocks an account at once; lifting it takes a second officer with a fresh code', async () => {
      await account('e2e.officer1', ['security_officer'])
      await account('e2e.officer2', ['security_officer'])
      // The first officer sees something amiss and blocks the researcher's account from the console.
      const first = await signIn('e2e.officer1')
      await first.goto(`${base}/#/audit`)
      await first.getByLabel(ja.audit.blockSubject).fill('account:e2e.researcher')
      await first.getByLabel(ja.audit.blockReason).fill('e2e: 深夜の大量ダウンロード')
      await first.getByRole('button', { name: ja.audit.blockNow }).click()
      await first.getByRole('status').filter({ hasText: '遮断しました' }).waitFor()
      const refused = await open()
      await refused.goto(`${base}/`)
      await refused.getByLabel(ja.login.username).fill('e2e.researcher')
      await refused.getByLabel(ja.login.password).fill(PASSWORD)
      await refused.getByLabel(ja.login.code).fill(await auth.code('e2e.researcher'))
      await refused.getByRole('button', { name: ja.login.submit }).click()
      await expect(refused.getByRole('alert').textContent()).resolves.toContain(ja.errors['auth.failed'])

      const row = first
        .getByRole('row')
        .filter({ hasText: 'account:e2e.researcher' })
        .filter({ hasText: ja.audit.blockStates.active })
      await row.waitFor()
      await row.getByRole('button', { name: ja.audit.askLift }).click()
      await first.getByRole('status').filter({ hasText: '解除を申請しました' }).waitFor()
      // The requester cannot approve their own request: they may only withdraw it.
      const mine = first.getByRole('row').filter({ hasText: 'block:' })
      await mine.getByRole('button', { name: ja.audit.cancel }).waitFor()
      await expect(mine.getByRole('button', { name: ja.audit.approve }).count()).resolves.toBe(0)
      await expectAccessible(first, 'the audit page with an alert')
      await shot(first, 'audit-alert')

      const second = await signIn('e2e.officer2')
      await second.goto(`${base}/#/audit`)
      await second
        .getByRole('row')
        .filter({ hasText: 'block:' })
        .getByRole('button', { name: ja.audit.approve })
        .click()
      await second.getByLabel(ja.login.code).fill(await auth.code('e2e.officer2'))
      await second.getByRole('button', { name: ja.audit.approve }).last().click()
      await second.getByRole('status').filter({ hasText: 'を承認しました' }).waitFor()
      await shot(second, 'audit-lifted')
      const block = await runtime.db.kysely
        .selectFrom('governance.block')
        .select(['lift_requested_by', 'lifted_by', 'lifted_at'])
        .where('subject', '=', 'account:e2e.researcher')
        .executeTakeFirstOrThrow()
      expect(block).toMatchObject({
        lift_requested_by: 'account:e2e.officer1',
        lifted_by: 'account:e2e.officer2',
      })
      expect(block.lifted_at).not.toBeNull()
      // The audit search finds both steps.
      await second.getByLabel(ja.audit.action, { exact: true }).fill('approval.')
      await second.getByRole('button', { name: ja.audit.find }).click()
      await second.getByRole('cell', { name: 'account:e2e.officer2' }).first().waitFor()
      // The whole log, newest first, a page of 50 at a time.
      await second.getByLabel(ja.audit.action, { exact: true }).fill('')
      await second.getByRole('button', { name: ja.audit.find }).click()
      const rows = second.locator('table.audit tbody tr')
      await expect.poll(() => rows.count()).toBe(50)
      await second.getByRole('button', { name: ja.audit.more }).click()
      await expect.poll(() => rows.count()).toBeGreaterThan(50)
      const seqs = (await rows.locator('td:first-child').allTextContents()).map(Number)
      expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => b - a))
      // And the researcher signs in again.
      await signIn('e2e.researcher')
    })
  })
}
