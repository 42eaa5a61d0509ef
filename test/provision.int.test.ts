import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pseudonym } from '../src/anonymize/index.js'
import { type Config, loadConfig } from '../src/config/index.js'
import { localPatientHash } from '../src/identity/index.js'
import { registerOptOut } from '../src/intake/index.js'
import { isTokumeiError, PREFECTURES } from '../src/model/index.js'
import {
  buildRelease,
  buildStatistics,
  createDelivery,
  parseQuery,
  parseSpec,
  releaseKey,
  takeDownload,
  traceFile,
  verifyPackage,
} from '../src/release/index.js'
import { type DemoReport, runDemo } from '../src/runtime/demo.js'
import {
  coreIntakeContext,
  deliveryContext,
  monitorContext,
  openRuntime,
  type Runtime,
  releaseBuildContext,
  runJobNow,
} from '../src/runtime/index.js'
import { runMonitorOnce } from '../src/security/index.js'
import { filesBelow, scanForCanaries, scannedCanaries } from './support/canary.js'
import { runCli } from './support/cli.js'
import { createServerDatabase, dialects } from './support/database.js'
import { readDicom } from './support/dicom.js'
import { SHARED_DATA } from './support/files.js'

/**
 * The four uses of the founding documents, end to end on synthetic data from several hospitals:
 * `runDemo` ingests, links and provides one package per use exactly as `tokumei demo` does; each
 * test then checks its use's promise against the packages as their recipient opened them and
 * against the synthetic ground truth — and the canary scan looks for every identifying string of
 * the source data in every released file. On both dialects.
 */
const csv = (path: string): string[][] => parse(readFileSync(path, 'utf8')) as string[][]
const table = (path: string) => {
  const [header, ...rows] = csv(path)
  return { header: header as string[], rows, col: (name: string) => (header as string[]).indexOf(name) }
}
const days = (a: string, b: string) => Math.round((Date.parse(b) - Date.parse(a)) / 86_400_000)

for (const dialect of dialects()) {
  describe(`[${dialect}] provision end to end`, () => {
    let dir: string
    let config: Config
    let env: Record<string, string>
    let report: DemoReport
    let runtime: Runtime
    let drop: (() => Promise<void>) | undefined
    const release = (use: string) =>
      report.releases.find((r) => r.use.startsWith(use)) as DemoReport['releases'][number]
    const truth = (name: string) => csv(join(dir, 'demo', 'synth', 'truth', name)).slice(1)

    /** A truth person at an institution → the store's person (through the vault's keyed hash of the local ID). */
    const personOfLocal = async (institution: string, localId: string): Promise<number | undefined> => {
      const row = await runtime.db.kysely
        .selectFrom('identity.patient as v')
        .innerJoin('clinical.patient_person as pp', 'pp.patient_ref', 'v.patient_ref')
        .select('pp.person_id')
        .where('v.local_hash', '=', localPatientHash(runtime.keyring, institution, localId))
        .executeTakeFirst()
      return row?.person_id
    }

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'tk-provision-'))
      env = { TOKUMEI_DATA_DIR: join(dir, 'demo', 'data') }
      if (dialect === 'postgres') {
        const server = await createServerDatabase()
        drop = server.drop
        env.DATABASE_URL = server.url
      }
      config = loadConfig({ env, cwd: dir })
      report = await runDemo(config, {
        out: join(dir, 'demo'),
        persons: 500,
        hospitals: 3,
        seed: 'provision-e2e',
        sharedDataDir: SHARED_DATA,
      })
      runtime = await openRuntime(config, { actor: 'os:tester@core' })
    }, 600_000)

    afterAll(async () => {
      await runtime?.close()
      await drop?.()
      rmSync(dir, { recursive: true, force: true })
    })

    it('builds, delivers, opens and verifies one package per use', () => {
      expect(report.releases.map((r) => r.use.split(' ')[0])).toEqual(['1', '2', '3', '4'])
      for (const r of report.releases) {
        expect(r.verified).toBe(true)
        expect(r.persons).toBeGreaterThan(0)
      }
    })

    it('use 1, AI imaging: DICOM objects with no identifying attribute left', async () => {
      const r = release('1')
      const persons = new Set(table(join(r.dir, 'persons.csv')).rows.map((row) => row[0]))
      // The cohort: persons with a CR or CT image, and no one else.
      const { rows: imaged } = await sql<{ person_id: number }>`
        select distinct pp.person_id from clinical.imaging m
          join clinical.patient_person pp on pp.patient_ref = m.patient_ref
         where m.modality in ('CR', 'CT')`.execute(runtime.db.kysely)
      const key = releaseKey(runtime.keyring, r.id)
      const cohort = new Set(imaged.map((p) => pseudonym(key, String(p.person_id))))
      const linked = await sql<{ n: string }>`
        select count(distinct person_id) as n from clinical.patient_person`.execute(runtime.db.kysely)
      expect(persons.size).toBeGreaterThan(10)
      expect(persons.size).toBeLessThan(Number(linked.rows[0]?.n))
      for (const person of persons) expect(cohort.has(person as string)).toBe(true)
      const images = [...filesBelow(join(r.dir, 'images'))]
      expect(images.length).toBeGreaterThan(10)
      for (const file of images) {
        const ds = readDicom(readFileSync(file))
        const value = (tag: string) => ds[tag]?.Value?.[0]
        // PatientName, BirthDate, Sex, Address, InstitutionName, ReferringPhysician, OperatorsName …
        for (const tag of [
          '00100010',
          '00100030',
          '00100040',
          '00101040',
          '00080080',
          '00080081',
          '00080090',
          '00081070',
          '00100021',
          '00101000',
        ]) {
          const v = value(tag)
          const text = v !== null && typeof v === 'object' ? (v as { Alphabetic?: string }).Alphabetic : v
          // Removed, emptied, or the dummy of Annex E's D action.
          expect(['', 'ANONYMIZED'], `${tag} of ${file}`).toContain(String(text ?? '').trim())
        }
        expect(persons.has(String(value('00100020')))).toBe(true)
        for (const uid of ['0020000D', '0020000E', '00080018'])
          expect(String(value(uid))).toMatch(/^2\.25\.\d+$/)
        expect(value('00120062')).toBe('YES')
        expect(Object.keys(ds).some((tag) => Number.parseInt(tag.slice(0, 4), 16) % 2 === 1)).toBe(false)
      }
    })

    it('use 2, epidemiology by municipality: linked persons, no IDs, no hospital names, no address below the municipality', async () => {
      const r = release('2')
      const persons = table(join(r.dir, 'persons.csv'))
      const conditions = table(join(r.dir, 'conditions.csv'))
      const key = releaseKey(runtime.keyring, r.id)
      // Persons seen at more than one institution: one row each, carrying every institution's records.
      const { rows: multi } = await sql<{ person_id: number; institutions: number; conditions: number }>`
        select pp.person_id, count(distinct p.institution_id)::int as institutions,
               (select count(*)::int from clinical.condition c
                  join clinical.patient_person q on q.patient_ref = c.patient_ref where q.person_id = pp.person_id) as conditions
          from clinical.patient_person pp join clinical.patient p on p.patient_ref = pp.patient_ref
         group by pp.person_id having count(distinct p.institution_id) > 1`.execute(runtime.db.kysely)
      const released = new Map<string, number>()
      for (const row of persons.rows)
        released.set(row[0] as string, (released.get(row[0] as string) ?? 0) + 1)
      const perPerson = new Map<string, number>()
      for (const row of conditions.rows)
        perPerson.set(row[0] as string, (perPerson.get(row[0] as string) ?? 0) + 1)
      let checked = 0
      for (const m of multi) {
        const name = pseudonym(key, String(m.person_id))
        if (!released.has(name)) continue
        expect(released.get(name)).toBe(1)
        expect(perPerson.get(name)).toBe(m.conditions)
        checked++
      }
      expect(checked).toBeGreaterThan(10)
      // Areas: a prefecture with at most its municipality (市区町村), or generalized further.
      const regions = [
        '北海道地方',
        '東北地方',
        '関東地方',
        '中部地方',
        '近畿地方',
        '中国地方',
        '四国地方',
        '九州地方',
      ]
      for (const row of persons.rows) {
        const area = row[persons.col('area')] as string
        if (area === '*' || area === '' || regions.includes(area)) continue
        const prefecture = PREFECTURES.find((p) => area.startsWith(p))
        expect(prefecture, area).toBeDefined()
        expect(area.slice((prefecture as string).length)).toMatch(
          /^(|[^0-9０-９丁目番地号−-]+?[市区町村](.+?区)?)$/,
        )
      }
      // No institution's name or code, no hospital patient ID, in any file of the package.
      const hospitals = truth('hospitals.csv')
      const words = [
        ...hospitals.map((h) => h[0] as string),
        ...hospitals.map((h) => h[1] as string),
        ...truth('persons.csv').map((p) => p[2] as string),
      ]
      expect(await scanForCanaries(r.dir, words)).toEqual([])
    })

    it('use 3, drug safety: every date shifted by the person’s one offset, every prescription-to-event interval exact', async () => {
      const r = release('3')
      const key = releaseKey(runtime.keyring, r.id)
      const medications = table(join(r.dir, 'medications.csv'))
      const conditions = table(join(r.dir, 'conditions.csv'))
      const released = new Set(table(join(r.dir, 'persons.csv')).rows.map((row) => row[0] as string))
      const datesOf = (t: ReturnType<typeof table>, name: string) =>
        t.rows
          .filter((row) => row[0] === name && row[t.col('date')] !== '')
          .map((row) => row[t.col('date')] as string)
          .sort()
      // The offset of each person, from the store's dates and the released ones (no key needed).
      const { rows: storePersons } = await sql<{
        person_id: number
      }>`select distinct person_id from clinical.patient_person`.execute(runtime.db.kysely)
      let persons = 0
      for (const { person_id } of storePersons) {
        const name = pseudonym(key, String(person_id))
        if (!released.has(name)) continue
        const { rows } = await sql<{ date: string }>`
          select m.date::text as date from clinical.medication m join clinical.patient_person pp on pp.patient_ref = m.patient_ref
           where pp.person_id = ${person_id} and m.date is not null order by 1`.execute(runtime.db.kysely)
        const source = rows.map((x) => x.date)
        const shipped = datesOf(medications, name)
        if (source.length === 0) continue
        expect(shipped.length).toBe(source.length)
        const offset = days(source[0] as string, shipped[0] as string)
        expect(offset).not.toBe(0)
        expect(Math.abs(offset)).toBeLessThanOrEqual(365)
        expect(shipped.map((d, i) => days(source[i] as string, d))).toEqual(shipped.map(() => offset))
        persons++
      }
      expect(persons).toBeGreaterThan(10)
      // The adverse events of the ground truth: the released interval is the true one (a code held by
      // fewer than k persons is released as *, its date as it is).
      const drugs: Record<string, string> = {
        amlodipine: '107236101',
        loxoprofen: '101966301',
        sitagliptin: '118513001',
      }
      const localIds = new Map(truth('persons.csv').map(([p, i, l]) => [`${p}|${i}`, l as string]))
      let events = 0
      for (const [person, institution, drug, icd10, , , interval] of truth('adverse_events.csv')) {
        const personId = await personOfLocal(
          institution as string,
          localIds.get(`${person}|${institution}`) as string,
        )
        if (personId === undefined) continue
        const name = pseudonym(key, String(personId))
        if (!released.has(name)) continue
        const starts = medications.rows
          .filter(
            (row) => row[0] === name && [drugs[drug as string], '*'].includes(row[medications.col('hot9')]),
          )
          .map((row) => row[medications.col('date')] as string)
        const onsets = conditions.rows
          .filter((row) => row[0] === name && [icd10, '*'].includes(row[conditions.col('icd10')]))
          .map((row) => row[conditions.col('date')] as string)
        const intervals = new Set(starts.flatMap((s) => onsets.map((o) => days(s, o))))
        expect(intervals.has(Number(interval)), `${person} ${drug} → ${icd10}`).toBe(true)
        events++
      }
      expect(events).toBeGreaterThan(3)
    })

    it('use 4, trial feasibility: counts with primary and secondary suppression holding', async () => {
      const r = release('4')
      const t = table(join(r.dir, 'table.csv'))
      const count = t.col('count')
      const dims = t.header.slice(0, count)
      expect(dims).toEqual(['age_band', 'sex', 'prefecture'])
      // Primary: no published count from 1 to 9.
      for (const row of t.rows) {
        const v = row[count] as string
        if (v !== 'x') expect(Number(v) === 0 || Number(v) >= 10, row.join(',')).toBe(true)
      }
      // Secondary: no margin equation with exactly one suppressed cell (independently of the LP).
      const cells = new Map(t.rows.map((row) => [row.slice(0, count).join('|'), row[count] as string]))
      const categories = dims.map((_, i) =>
        [...new Set(t.rows.map((row) => row[i] as string))].filter((v) => v !== '計'),
      )
      let equations = 0
      for (const row of t.rows)
        row.slice(0, count).forEach((label, i) => {
          if (label !== '計') return
          const line = [row.slice(0, count).join('|')]
          for (const c of categories[i] as string[]) {
            const key = [...row.slice(0, count)]
            key[i] = c
            line.push(key.join('|'))
          }
          const suppressed = line.filter((k) => cells.get(k) === 'x').length
          expect(suppressed, `margin ${line[0]} along ${dims[i]}`).not.toBe(1)
          equations++
        })
      expect(equations).toBeGreaterThan(100)
      // The published grand total is the cohort counted from the store directly.
      const { rows } = await sql<{ n: number }>`
        select count(distinct pp.person_id)::int as n from clinical.patient_person pp
         where exists (select 1 from clinical.condition c join clinical.patient_person q on q.patient_ref = c.patient_ref
                        where q.person_id = pp.person_id and upper(replace(c.icd10, '.', '')) like 'E11%')
           and not exists (select 1 from clinical.condition c join clinical.patient_person q on q.patient_ref = c.patient_ref
                        where q.person_id = pp.person_id and upper(replace(c.icd10, '.', '')) ~ '^E11[0-8]')
           and not exists (select 1 from clinical.withheld_person w where w.person_id = pp.person_id)`.execute(
        runtime.db.kysely,
      )
      const total = cells.get('計|計|計')
      expect(total === 'x' ? 'x' : Number(total)).toBe(
        (rows[0] as { n: number }).n >= 10 ? (rows[0] as { n: number }).n : 'x',
      )
      // From the files alone, every suppressed cell's feasible range is checked by linear programming.
      const verification = await verifyPackage(r.dir)
      expect(verification.checks.find((c) => c.name === 'disclosure')?.ok).toBe(true)
    })

    it('canary scan: no identifying string of the source data in any released file, in any encoding', async () => {
      const canaries = scannedCanaries(
        readFileSync(join(dir, 'demo', 'synth', 'truth', 'canaries.txt'), 'utf8'),
      )
      expect(canaries.length).toBeGreaterThan(1000)
      expect(await scanForCanaries(join(dir, 'demo', 'releases'), canaries)).toEqual([])
    }, 120_000)

    it('refuses a package changed after signing', async () => {
      const copy = join(dir, 'tampered')
      cpSync(release('2').dir, copy, { recursive: true })
      const path = join(copy, 'conditions.csv')
      writeFileSync(path, readFileSync(path, 'utf8').replace(/\n[^\n]+\n$/, '\n'))
      const tampered = await verifyPackage(copy)
      expect(tampered.ok).toBe(false)
      expect(tampered.checks.find((c) => c.name === 'files')?.detail).toContain('conditions.csv')
      const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8'))
      manifest.privacy.k = 1
      writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest))
      expect((await verifyPackage(copy)).checks.find((c) => c.name === 'signature')?.ok).toBe(false)
    })

    it('traces a file, or a fragment of one, to its release', async () => {
      const r3 = release('3')
      const lines = readFileSync(join(r3.dir, 'medications.csv'), 'utf8').split('\n').slice(40, 45).join('\n')
      const fragment = await traceFile(runtime.db.kysely, Buffer.from(`copied into a slide:\n${lines}\n`))
      expect(fragment.matches[0]?.release).toBe(r3.id)
      expect(fragment.matches[0]?.wholeFile).toBe(false)
      const r1 = release('1')
      const image = [...filesBelow(join(r1.dir, 'images'))][0] as string
      const whole = await traceFile(runtime.db.kysely, readFileSync(image))
      expect(whole.matches[0]).toMatchObject({ release: r1.id, wholeFile: true })
      expect((await traceFile(runtime.db.kysely, Buffer.from('nothing of ours'))).matches).toEqual([])
    })

    it('limits a download link by count and by time, and audits every download', async () => {
      const id = release('2').id
      let now = new Date()
      const context = { ...deliveryContext(runtime), now: () => now }
      const once = await createDelivery(context, {
        release: id,
        recipient: '研究 花子',
        hours: 1,
        downloads: 1,
      })
      await takeDownload(context, once.token as string, 'test')
      await expect(takeDownload(context, once.token as string, 'test')).rejects.toMatchObject({
        code: 'delivery.exhausted',
      })
      const timed = await createDelivery(context, {
        release: id,
        recipient: '研究 花子',
        hours: 1,
        downloads: 5,
      })
      now = new Date(now.getTime() + 2 * 3_600_000)
      await expect(takeDownload(context, timed.token as string, 'test')).rejects.toMatchObject({
        code: 'delivery.expired',
      })
      await expect(takeDownload(context, 'not-a-token', 'test')).rejects.toMatchObject({
        code: 'delivery.unknown',
      })
      await expect(createDelivery(context, { release: id, recipient: 'someone else' })).rejects.toMatchObject(
        { code: 'delivery.not_recipient' },
      )
      const audited = await runtime.db.kysely
        .selectFrom('audit.event')
        .select(['outcome'])
        .where('action', '=', 'delivery.download')
        .execute()
      expect(audited.filter((a) => a.outcome === 'denied').length).toBeGreaterThanOrEqual(3)
    })

    it('leaves a person out of every release built after their refusal', async () => {
      const r = release('2')
      const key = releaseKey(runtime.keyring, r.id)
      const released = new Set(table(join(r.dir, 'persons.csv')).rows.map((row) => row[0] as string))
      // A released person seen at two hospitals refuses at one of them.
      let refused: { person: number; institution: string; localId: string } | undefined
      for (const [person, institution, localId] of truth('persons.csv')) {
        const personId = await personOfLocal(institution as string, localId as string)
        if (personId === undefined || !released.has(pseudonym(key, String(personId)))) continue
        const at = truth('persons.csv').filter((p) => p[0] === person).length
        if (at < 2) continue
        refused = { person: personId, institution: institution as string, localId: localId as string }
        break
      }
      expect(refused).toBeDefined()
      const { person, institution, localId } = refused as {
        person: number
        institution: string
        localId: string
      }
      await registerOptOut(coreIntakeContext(runtime), {
        institutionCode: institution,
        patientId: localId,
        channel: 'cli',
        actor: 'os:tester@core',
      })
      const project = JSON.parse(readFileSync(join(r.dir, 'manifest.json'), 'utf8')).project as string
      const spec = parseSpec(
        `project: ${project}\ncohort: { conditions: [I10, E11, E78] }\ntables: { persons: [age, sex, area], conditions: all }\n`,
        'the rebuilt spec',
      )
      const again = await buildRelease(await releaseBuildContext(runtime), spec)
      const names = new Set(table(join(again.dir, 'persons.csv')).rows.map((row) => row[0] as string))
      expect(names.has(pseudonym(releaseKey(runtime.keyring, again.id), String(person)))).toBe(false)
      // …including what the other hospital sent about them.
      const pseudonyms = table(join(again.dir, 'conditions.csv')).rows.map((row) => row[0] as string)
      expect(pseudonyms).not.toContain(pseudonym(releaseKey(runtime.keyring, again.id), String(person)))
    })

    it('refuses a statistical query that would difference out a few persons, and records it', async () => {
      const project = JSON.parse(readFileSync(join(release('4').dir, 'manifest.json'), 'utf8'))
        .project as string
      const base = { project, dimensions: ['sex'], filters: { conditions: ['I10'] } }
      const first = await buildStatistics(await releaseBuildContext(runtime), parseQuery(base, 'first'))
      expect(first.cohort).toBeGreaterThan(20)
      // The same table for everyone but the oldest few: the difference would show them.
      let refused = false
      for (const max of [100, 95, 92, 90, 88, 85, 80]) {
        try {
          await buildStatistics(
            await releaseBuildContext(runtime),
            parseQuery({ ...base, filters: { ...base.filters, ages: { min: 0, max } } }, 'second'),
          )
        } catch (error) {
          if (!isTokumeiError(error) || error.code !== 'stats.differencing') throw error
          refused = true
          break
        }
      }
      expect(refused).toBe(true)
      const audit = await runtime.db.kysely
        .selectFrom('audit.event')
        .select('action')
        .where('action', '=', 'stats.refused')
        .execute()
      expect(audit.length).toBeGreaterThan(0)
    })

    it('builds from a spec file with `tokumei release build`, or queues the build with --queue', async () => {
      const project = JSON.parse(readFileSync(join(release('3').dir, 'manifest.json'), 'utf8'))
        .project as string
      const specFile = join(dir, 'cli-spec.yaml')
      writeFileSync(
        specFile,
        `project: ${project}\ncohort: { conditions: [E11] }\ntables: { persons: [age, sex], medications: [date, hot9] }\n`,
      )
      const badFile = join(dir, 'cli-bad-spec.yaml')
      writeFileSync(badFile, `project: ${project}\ntables: { persons: [age], vitals: all }\n`)
      // One process at a time on the embedded store: the test's runtime steps aside for the command.
      await runtime.close()
      let job: number
      try {
        const run = (...args: string[]) => runCli(args, { env, cwd: dir })
        const built = await run('release', 'build', '--spec', specFile, '--json')
        expect(built.code, built.stderr).toBe(0)
        const result = JSON.parse(built.stdout) as { id: string; dir: string; persons: number }
        expect(result.dir).toBe(join(config.dataDir, 'releases', result.id))
        expect(result.persons).toBeGreaterThan(0)
        expect((await run('release', 'verify', result.dir, '--json')).code).toBe(0)
        const queued = await run('release', 'build', '--spec', specFile, '--queue', '--json')
        expect(queued.code, queued.stderr).toBe(0)
        job = (JSON.parse(queued.stdout) as { job: number }).job
        const bad = await run('release', 'build', '--spec', badFile)
        expect(bad.code).not.toBe(0)
        expect(bad.stderr).toContain(badFile)
        expect(bad.stderr).toContain('tables')
      } finally {
        runtime = await openRuntime(config, { actor: 'os:tester@core' })
      }
      const row = await runtime.db.kysely
        .selectFrom('jobs.job')
        .select(['kind', 'status'])
        .where('id', '=', job)
        .executeTakeFirstOrThrow()
      expect(row).toEqual({ kind: 'release.build', status: 'queued' })
    })

    it('reads the vault (to scrub documents) only inside release build jobs, and alerts on a read outside one', async () => {
      const project = JSON.parse(readFileSync(join(release('2').dir, 'manifest.json'), 'utf8'))
        .project as string
      const { id, result } = await runJobNow(runtime, {
        kind: 'release.build',
        payload: { spec: `project: ${project}\ntables: { persons: [age, sex], documents: all }\n` },
      })
      const built = result as { tables: Array<{ name: string; rows: number }> }
      expect(built.tables.find((t) => t.name === 'documents')?.rows).toBeGreaterThan(0)
      const readsOf = async () =>
        (
          await runtime.db.kysely
            .selectFrom('audit.event')
            .select('detail')
            .where('action', '=', 'identity.read')
            .where('target', '=', 'release.build')
            .execute()
        ).map((e) => e.detail as { job: number | null; kind: string | null; patients: number })
      const reads = await readsOf()
      expect(reads.length).toBeGreaterThan(0)
      for (const read of reads) expect(read).toMatchObject({ job: id, kind: 'release.build' })
      expect(reads.reduce((n, r) => n + r.patients, 0)).toBeGreaterThan(0)
      const hits = await runMonitorOnce(monitorContext(runtime))
      expect(hits.filter((h) => h.rule === 'vault-read-outside-job')).toEqual([])

      // The same read outside a job is audited all the same, and is an alert.
      const { rows } = await sql<{ patient_ref: number }>`
        select patient_ref from clinical.document limit 1`.execute(runtime.db.kysely)
      await (await releaseBuildContext(runtime)).patientContexts?.([Number(rows[0]?.patient_ref)])
      expect((await readsOf()).at(-1)).toMatchObject({ job: null, kind: null, patients: 1 })
      const outside = await runMonitorOnce(monitorContext(runtime))
      expect(outside.filter((h) => h.rule === 'vault-read-outside-job').map((h) => h.subject)).toEqual([
        'os:tester@core',
      ])
    })
  })
}
