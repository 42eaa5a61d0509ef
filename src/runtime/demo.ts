import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { generateSync } from 'otplib'
import { stringify as toYaml } from 'yaml'
import type { Config } from '../config/index.js'
import {
  addInstitution,
  type IncomingFile,
  openSubmission,
  receiveFiles,
  registerOptOut,
  sealSubmission,
} from '../intake/index.js'
import { enqueueJob } from '../jobs/index.js'
import { TokumeiError } from '../model/index.js'
import {
  APPLICATION_SCHEMA,
  applyForProject,
  CONTRACT_SCHEMA,
  createDelivery,
  decryptPackage,
  defaultPersonsPolicy,
  type GovernanceContext,
  generateRecipientKeys,
  parseQuery,
  parseSpec,
  recipientKeyId,
  reviewProject,
  signContract,
  storePolicy,
  takeDownload,
  untar,
  verifyPackage,
} from '../release/index.js'
import { type AuthContext, createAccount, setUpAccount, verifyPerson } from '../security/index.js'
import { generateSyntheticData } from '../synth/index.js'
import { DEMO_LOGIN_FILE } from './demo-login.js'
import { initialize } from './initialize.js'
import { openRuntime } from './runtime.js'
import {
  authContext,
  coreIntakeContext,
  createWorker,
  deliveryContext,
  receiveContext,
  runJobNow,
} from './workers.js'

/**
 * `tokumei demo`: the whole agency on synthetic data, end to end — hospitals synthesized, registered,
 * their files submitted and ingested, refusals registered, persons linked across hospitals, one
 * project per use of the founding documents applied for, reviewed by two committee members and
 * contracted, one package built per use (use 4's holds the statistical table), each delivered
 * encrypted to its recipient, downloaded, opened and verified as the recipient would. Composition
 * only: every step is the product's own function.
 */
export interface DemoOptions {
  readonly out: string
  readonly persons: number
  readonly hospitals: number
  readonly seed: string
  readonly sharedDataDir?: string
  readonly onProgress?: (message: string) => void
}

export interface DemoStage {
  readonly stage: string
  readonly seconds: number
  readonly detail: string
}

export interface DemoReport {
  readonly out: string
  readonly dataDir: string
  readonly stages: readonly DemoStage[]
  readonly releases: ReadonlyArray<{
    readonly use: string
    readonly id: string
    readonly dir: string
    readonly persons: number
    readonly verified: boolean
  }>
  readonly login: { readonly username: string; readonly password: string; readonly totpSecret: string }
}

const MARKER = '.tokumei-demo'
const DEMO_PASSWORD = 'tokumei demo password 2026'

const csvRows = (path: string): string[][] =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','))

/** A fresh demo directory: a new or empty one, or an earlier demo's (marked), emptied. */
export function prepareDemoDir(out: string): void {
  if (existsSync(out) && readdirSync(out).length > 0) {
    if (!existsSync(join(out, MARKER)))
      throw new TokumeiError(
        `${out} is not empty and not an earlier demo's directory: choose another --out.`,
        {
          code: 'demo.out_not_empty',
          kind: 'invalid',
        },
      )
    rmSync(out, { recursive: true, force: true })
  }
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, MARKER), 'made by tokumei demo; removed and made again by the next one\n')
}

function* filesUnder(root: string): Generator<{ path: string; relativePath: string }> {
  const stack = [root]
  while (stack.length > 0) {
    const dir = stack.pop() as string
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) stack.push(path)
      else if (entry.isFile()) yield { path, relativePath: relative(root, path).split(sep).join('/') }
    }
  }
}

/** One-time codes for the demo's own accounts, each at a time step the account has not used yet. */
class Authenticator {
  readonly #last = new Map<string, number>()
  async code(username: string, secret: string): Promise<string> {
    for (;;) {
      const now = Math.floor(Date.now() / 30_000)
      const step = Math.max(now - 1, (this.#last.get(username) ?? -1) + 1)
      if (step <= now + 1) {
        this.#last.set(username, step)
        return generateSync({ secret, epoch: step * 30 })
      }
      await sleep(1000)
    }
  }
}

const USES = [
  {
    use: '1 AI imaging',
    title: '胸部画像の機械学習による読影支援',
    items: ['画像 (DICOM)', '年齢', '性別'],
    cohort: '画像検査を受けた患者',
    spec: { cohort: { modalities: ['CR', 'CT'] }, tables: { persons: ['age', 'sex'], images: 'all' } },
  },
  {
    use: '2 epidemiology by municipality',
    title: '市区町村別の生活習慣病の疫学研究',
    items: ['年齢', '性別', '市区町村', '病名', '受診'],
    cohort: '高血圧・糖尿病・脂質異常症の患者',
    spec: {
      cohort: { conditions: ['I10', 'E11', 'E78'] },
      tables: { persons: ['age', 'sex', 'area'], conditions: 'all', encounters: ['date', 'class', 'event'] },
    },
  },
  {
    use: '3 drug safety',
    title: '市販後の薬剤安全性（処方から有害事象まで）',
    items: ['年齢', '性別', '処方', '病名'],
    cohort: 'アムロジピン・ロキソプロフェン・シタグリプチンを処方された患者',
    spec: {
      // アムロジピン, ロキソプロフェン, シタグリプチン (HOT9 and レセプト電算 codes).
      cohort: { drugs: ['107236101', '610443040', '101966301', '620098801', '118513001', '622003101'] },
      tables: {
        persons: ['age', 'sex'],
        medications: ['date', 'hot9', 'receipt_code', 'name', 'days'],
        conditions: ['date', 'icd10', 'name'],
      },
    },
  },
  {
    use: '4 trial feasibility',
    title: '治験実施可能性調査（軽症糖尿病・合併症なし）',
    items: ['年齢階級', '性別', '都道府県別の患者数'],
    cohort: '合併症のない2型糖尿病 (E11.9)',
    query: {
      dimensions: ['age_band', 'sex', 'prefecture'],
      filters: {
        conditions: ['E11'],
        without: ['E11.0', 'E11.1', 'E11.2', 'E11.3', 'E11.4', 'E11.5', 'E11.6', 'E11.7', 'E11.8'],
      },
      threshold: 10,
    },
  },
] as const

export async function runDemo(config: Config, options: DemoOptions): Promise<DemoReport> {
  const stages: DemoStage[] = []
  const progress = options.onProgress ?? (() => {})
  const stage = async <T>(name: string, fn: () => Promise<T>, detail: (value: T) => string): Promise<T> => {
    progress(`${name} …`)
    const started = performance.now()
    const value = await fn()
    const entry = {
      stage: name,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      detail: detail(value),
    }
    stages.push(entry)
    progress(`${name}: ${entry.detail} (${entry.seconds} s)`)
    return value
  }
  prepareDemoDir(options.out)
  const synthDir = join(options.out, 'synth')

  await stage(
    'synthesize',
    () =>
      generateSyntheticData({
        persons: options.persons,
        hospitals: options.hospitals,
        seed: options.seed,
        out: synthDir,
        formats: new Set(['ssmix2', 'uke', 'fhir', 'dicom', 'notes']),
        sharedDataDir: options.sharedDataDir,
      }),
    (r) => `${r.persons} persons at ${r.hospitals.length} hospitals, ${r.files} files`,
  )
  const init = await stage(
    'initialize',
    () => initialize(config, { cwd: options.out, actor: 'os:demo@tokumei' }),
    (r) => `${r.database.dialect} at ${r.database.location}`,
  )
  const runtime = await openRuntime(config, { actor: 'os:demo@tokumei' })
  try {
    const auth = authContext(runtime)
    const login = await setUpDemoAccount(auth, init.admin)
    keepDemoLogin(options.out, login)
    const notices = new Map(
      csvRows(join(synthDir, 'truth', 'notices.csv')).map(([code, start]) => [
        code as string,
        start as string,
      ]),
    )
    const hospitals = csvRows(join(synthDir, 'truth', 'hospitals.csv'))
    await stage(
      'register hospitals',
      async () => {
        for (const [code, name] of hospitals)
          await addInstitution(runtime.db.kysely, {
            code: code as string,
            name: name as string,
            noticeStart: notices.get(code as string) ?? '2018-01-01',
          })
        return hospitals.length
      },
      (n) => `${n} institutions with their notice dates and API keys`,
    )
    // Refusals registered before the hospitals' data arrive: those patients' records are refused at intake.
    const localIds = new Map(
      csvRows(join(synthDir, 'truth', 'persons.csv')).map(([p, i, l]) => [`${p}|${i}`, l as string]),
    )
    const refusals = csvRows(join(synthDir, 'truth', 'optouts.csv'))
    await stage(
      'register opt-outs',
      async () => {
        for (const [person, institution] of refusals) {
          const localId = localIds.get(`${person}|${institution}`)
          if (localId)
            await registerOptOut(coreIntakeContext(runtime), {
              institutionCode: institution as string,
              patientId: localId,
              channel: 'cli',
              actor: runtime.actor,
            })
        }
        return refusals.length
      },
      (n) => `${n} refusals (提供停止) in the registry`,
    )
    await stage(
      'submit',
      async () => {
        let files = 0
        for (const [code] of hospitals) {
          const institution = await runtime.db.kysely
            .selectFrom('governance.institution')
            .select('id')
            .where('code', '=', code as string)
            .executeTakeFirstOrThrow()
          const context = receiveContext(runtime, `institution:${code}`)
          const id = await openSubmission(context, {
            institutionId: institution.id,
            declaredFormat: 'auto',
            channel: 'api',
          })
          let batch: IncomingFile[] = []
          for (const file of filesUnder(join(synthDir, code as string))) {
            batch.push({ path: file.relativePath, bytes: readFileSync(file.path) })
            if (batch.length >= 500) {
              await receiveFiles(context, id, batch)
              files += batch.length
              batch = []
            }
          }
          if (batch.length > 0) await receiveFiles(context, id, batch)
          files += batch.length
          await sealSubmission(context, id)
        }
        return files
      },
      (n) => `${n} files from ${hospitals.length} hospitals, each with its receipt (受領記録)`,
    )
    await stage(
      'ingest',
      async () => {
        await createWorker(runtime, {
          onJobProgress: (job, done, total) => progress(`  ingest job ${job.id}: ${done}/${total}`),
        }).run({ untilIdle: true })
        const row = await runtime.db.kysely
          .selectFrom('clinical.patient')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
        return Number(row.n)
      },
      (n) => `${n} patient records in the pseudonymous store`,
    )
    await stage(
      'link',
      async () => {
        await enqueueJob(
          runtime.db.kysely,
          { kind: 'link.run', payload: { mode: 'full' } },
          { maxAttempts: 1 },
        )
        await createWorker(runtime).run({ untilIdle: true })
        const run = await runtime.db.kysely
          .selectFrom('identity.link_run')
          .selectAll()
          .orderBy('id', 'desc')
          .executeTakeFirst()
        if (!run)
          throw new TokumeiError('The linkage run did not finish: see `tokumei jobs status`.', {
            code: 'demo.link_failed',
            kind: 'internal',
          })
        return run
      },
      (r) => `${r.records} patients → ${r.persons} persons (${r.links} links, ${r.review} pairs to review)`,
    )

    // Governance: one project per use, two reviewers each, a contract with the recipient's key.
    const authenticator = new Authenticator()
    const reviewers = await Promise.all(
      ['demo.reviewer1', 'demo.reviewer2', 'demo.reviewer3'].map((u) => setUpReviewer(auth, u)),
    )
    const keysDir = join(options.out, 'keys')
    mkdirSync(keysDir, { recursive: true })
    const governance: GovernanceContext = {
      db: runtime.db.kysely,
      keyring: runtime.keyring,
      actor: 'account:demo.researcher',
    }
    const today = new Date().toISOString().slice(0, 10)
    const nextYear = `${Number(today.slice(0, 4)) + 1}${today.slice(4)}`
    const later = `${Number(today.slice(0, 4)) + 2}${today.slice(4)}`
    const projects = await stage(
      'projects, reviews, contracts',
      async () => {
        const out: Array<{ code: string; privateKeyPem: string }> = []
        let turn = 0
        for (const use of USES) {
          const application = APPLICATION_SCHEMA.parse({
            title: use.title,
            organisation: '架空大学 医学研究科',
            investigator: '研究 花子',
            purpose: 'research',
            items: [...use.items],
            cohort: use.cohort,
            period: { from: today, to: nextYear },
            security: ['閉域の解析環境', '利用者の限定と記録', '契約終了時の消去'],
          })
          const project = await applyForProject(governance, application)
          for (let r = 0; r < 2; r++) {
            const reviewer = reviewers[turn++ % reviewers.length] as { username: string; secret: string }
            const account = await verifyPerson(auth, {
              username: reviewer.username,
              password: DEMO_PASSWORD,
              code: await authenticator.code(reviewer.username, reviewer.secret),
              source: runtime.actor,
            })
            await reviewProject(governance, {
              code: project.code,
              reviewer: account,
              decision: 'approve',
              comment: 'demo: 承認',
            })
          }
          const keys = generateRecipientKeys()
          writeFileSync(join(keysDir, `${project.code}.private.pem`), keys.privateKeyPem, { mode: 0o600 })
          await signContract(
            { ...governance, actor: runtime.actor },
            project.code,
            CONTRACT_SCHEMA.parse({
              recipients: [
                { name: '研究 花子', organisation: '架空大学 医学研究科', publicKey: keys.publicKeyPem },
              ],
              purposes: [use.title],
              sharing: '研究チーム内に限る',
              starts: today,
              ends: nextYear,
              destroyBy: later,
            }),
            recipientKeyId,
          )
          out.push({ code: project.code, privateKeyPem: keys.privateKeyPem })
        }
        return out
      },
      (p) => `${p.length} projects approved by two reviewers each and contracted`,
    )

    // A stricter policy the console's release builder can choose besides the default.
    await storePolicy(
      { db: runtime.db.kysely, keyring: runtime.keyring, actor: runtime.actor },
      {
        name: 'k10',
        description: 'k = 10 on age (bands), sex and area; up to 5 % of persons suppressed',
        text: defaultPersonsPolicy(['age', 'sex', 'area'], 10),
      },
    )

    const releases: Array<{ use: string; id: string; dir: string; persons: number; verified: boolean }> = []
    for (const [u, use] of USES.entries()) {
      const project = projects[u] as { code: string; privateKeyPem: string }
      const built = await stage(
        `use ${use.use}`,
        async () => {
          // As jobs, the way the core runs them: a build reads the vault (to scrub documents) only in one.
          if ('query' in use) {
            const query = { project: project.code, title: use.title, ...use.query }
            parseQuery(query, 'the demo query')
            const { result } = await runJobNow(runtime, { kind: 'stats.query', payload: { query } })
            const answered = result as {
              id: string
              cohort: number
              cells: number
              primary: number
              secondary: number
            }
            return {
              id: answered.id,
              persons: answered.cohort,
              detail: `${answered.cells} cells, ${answered.primary} + ${answered.secondary} suppressed`,
            }
          }
          const text = toYaml({ project: project.code, title: use.title, ...use.spec })
          parseSpec(text, 'the demo spec')
          const { result } = await runJobNow(runtime, {
            kind: 'release.build',
            payload: { spec: text, dir: options.out },
          })
          const built = result as {
            id: string
            persons: number
            tables: Array<{ name: string; rows: number }>
          }
          return {
            id: built.id,
            persons: built.persons,
            detail: built.tables.map((t) => `${t.name} ${t.rows}`).join(', '),
          }
        },
        (r) => `${r.id}: ${r.persons} persons; ${r.detail}`,
      )
      // Delivered as a recipient receives it: encrypted, through the link, opened with their key.
      const delivery = await createDelivery(deliveryContext(runtime), {
        release: built.id,
        recipient: '研究 花子',
        hours: 24,
        downloads: 1,
      })
      const download = await takeDownload(
        deliveryContext(runtime, 'recipient:研究 花子'),
        delivery.token as string,
        'demo',
      )
      const { archive } = decryptPackage(readFileSync(download.path), project.privateKeyPem)
      const dir = join(options.out, 'releases', built.id)
      mkdirSync(dir, { recursive: true })
      await untar(archive, dir)
      const verification = await verifyPackage(dir)
      releases.push({ use: use.use, id: built.id, dir, persons: built.persons, verified: verification.ok })
    }
    return { out: options.out, dataDir: config.dataDir, stages, releases, login }
  } finally {
    await runtime.close()
  }
}

async function setUpReviewer(
  auth: AuthContext,
  username: string,
): Promise<{ username: string; secret: string }> {
  const { code } = await createAccount(auth, { username, roles: ['reviewer'], actor: 'os:demo@tokumei' })
  const { secret } = await setUpAccount(auth, { username, code, password: DEMO_PASSWORD })
  return { username, secret }
}

/** The console's demo login: the first administrator, set up with a known password. */
async function setUpDemoAccount(
  auth: AuthContext,
  admin: { username: string; oneTimePassword: string } | null,
): Promise<DemoReport['login']> {
  if (!admin)
    throw new TokumeiError('The demo needs a fresh database.', { code: 'demo.not_fresh', kind: 'internal' })
  const { secret } = await setUpAccount(auth, {
    username: admin.username,
    code: admin.oneTimePassword,
    password: DEMO_PASSWORD,
  })
  return { username: admin.username, password: DEMO_PASSWORD, totpSecret: secret }
}

/** The demo's sign-in beside its data, readable by its owner only: a demo's, never a real agency's. */
function keepDemoLogin(out: string, login: DemoReport['login']): void {
  writeFileSync(join(out, DEMO_LOGIN_FILE), `${JSON.stringify(login)}\n`, { mode: 0o600 })
}

export const demoDirSize = (dir: string): number => {
  let bytes = 0
  for (const f of filesUnder(dir)) bytes += statSync(f.path).size
  return bytes
}
