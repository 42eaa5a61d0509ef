import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import { generateSync } from 'otplib'
import { beforeAll, expect, it } from 'vitest'
import { describeEachDialect } from '../../test/support/database.js'
import { exists, listFiles, SHARED_DATA, useSyntheticData } from '../../test/support/files.js'
import { startTestServer, type TestServer } from '../../test/support/server.js'
import { addInstitution, openSubmission, receiveFiles, sealSubmission } from '../intake/index.js'
import { authContext, createWorker, receiveContext } from '../runtime/index.js'
import { createAccount, setUpAccount, signIn } from '../security/index.js'
import { decidePair, evaluateAgainstTruth, runLinkage, VariantTable } from './index.js'

/**
 * Linkage against the store, on both dialects: hospitals' submissions go through intake as jobs,
 * then the linkage job links the vault into persons; persons stay stable across runs, reviewers'
 * decisions bind the next run (a rejection splits, an acceptance merges, both recorded), and no name
 * reaches the linkage tables.
 */
const HAS_SHARED_DATA = SHARED_DATA !== undefined && exists(SHARED_DATA)
const generate = useSyntheticData()

describeEachDialect('linkage against the store', (t) => {
  let server: TestServer
  let truth: string
  let canaries: string[]
  let dir: string
  let codes: string[]
  /** The truth of the hospitals submitted so far. */
  const truthOf = (submitted: readonly string[]) =>
    truth
      .trim()
      .split('\n')
      .filter((line, i) => i === 0 || submitted.includes(line.split(',')[1] as string))
      .join('\n')
  const submit = async (code: string) => {
    const receive = receiveContext(server.runtime)
    const { institution } = await addInstitution(t.db.kysely, {
      code,
      name: `病院${code}`,
      noticeStart: '2010-01-01',
    })
    const id = await openSubmission(receive, {
      institutionId: institution.id,
      declaredFormat: 'ssmix2',
      channel: 'cli',
    })
    const root = join(dir, code)
    await receiveFiles(
      receive,
      id,
      listFiles(root).map((path) => ({ path, bytes: readFileSync(join(root, path)) })),
    )
    await sealSubmission(receive, id)
    await createWorker(server.runtime).run({ untilIdle: true })
  }
  const variants = () =>
    VariantTable.load(SHARED_DATA ? join(SHARED_DATA, 'itaiji', 'itaiji_list.yml') : undefined)
  const context = () => ({
    db: t.db.kysely,
    keyring: t.keyring,
    actor: 'os:linker@core',
    variants: variants(),
  })
  const personOf = async (ref: number) =>
    (
      await t.db.kysely
        .selectFrom('clinical.patient_person')
        .select('person_id')
        .where('patient_ref', '=', ref)
        .executeTakeFirstOrThrow()
    ).person_id

  beforeAll(async () => {
    if (!HAS_SHARED_DATA) return
    server = await startTestServer(t)
    dir = (await generate({ persons: 150, hospitals: 3, seed: 'linkage-store', formats: ['ssmix2'] })).dir
    truth = readFileSync(join(dir, 'truth', 'persons.csv'), 'utf8')
    canaries = readFileSync(join(dir, 'truth', 'canaries.txt'), 'utf8')
      .split('\n')
      .filter((c) => c.length >= 3 && !/\d/.test(c))
    codes = readFileSync(join(dir, 'truth', 'notices.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(',')[0] as string)
    // The last hospital comes later, to be linked incrementally.
    for (const code of codes.slice(0, -1)) await submit(code)
  })

  it.runIf(HAS_SHARED_DATA)(
    'links the vault into persons as the truth has them, and says nothing personal',
    async () => {
      const summary = await runLinkage({ ...context(), job: { id: 1, kind: 'link.run' } })
      expect(summary.mode).toBe('full')
      expect(summary.records).toBeGreaterThan(100)
      const evaluation = await evaluateAgainstTruth(t.db.kysely, t.keyring, truthOf(codes.slice(0, -1)))
      expect(evaluation.missing).toBeLessThan(5) // held for the notice period or quarantined, if any
      expect(evaluation.pairwise.f1).toBeGreaterThanOrEqual(0.99)
      const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from identity.patient p
      left join clinical.patient_person pp using (patient_ref) where pp.person_id is null`.execute(
        t.db.kysely,
      )
      expect(rows[0]?.n).toBe(0)
      const read = await t.db.kysely
        .selectFrom('audit.event')
        .select(['actor', 'detail'])
        .where('action', '=', 'identity.read')
        .where('target', 'like', 'link_run:%')
        .execute()
      expect(read).toEqual([
        { actor: 'os:linker@core', detail: expect.objectContaining({ kind: 'link.run', job: 1 }) },
      ])
      const stored = JSON.stringify(
        await sql`select (select json_agg(r) from identity.link_run r) as runs, (select json_agg(p) from identity.link_pair p) as pairs`.execute(
          t.db.kysely,
        ),
      )
      for (const canary of canaries) expect(stored, 'a name in the linkage tables').not.toContain(canary)
    },
  )

  it.runIf(HAS_SHARED_DATA)('keeps every person id on a second run, full or incremental', async () => {
    const before = await t.db.kysely
      .selectFrom('clinical.patient_person')
      .selectAll()
      .orderBy('patient_ref')
      .execute()
    expect(await runLinkage(context(), { mode: 'full' })).toMatchObject({
      mode: 'full',
      merges: 0,
      splits: 0,
    })
    // Nobody new: an incremental run reads no identity and changes nothing.
    expect(await runLinkage(context())).toMatchObject({ mode: 'incremental', records: 0, pending: 0 })
    const after = await t.db.kysely
      .selectFrom('clinical.patient_person')
      .selectAll()
      .orderBy('patient_ref')
      .execute()
    expect(after.map((r) => [r.patient_ref, r.person_id])).toEqual(
      before.map((r) => [r.patient_ref, r.person_id]),
    )
  })

  it.runIf(HAS_SHARED_DATA)(
    "links a new hospital's patients incrementally: against existing persons, from keyed-hash tokens",
    async () => {
      const before = new Map(
        (await t.db.kysely.selectFrom('clinical.patient_person').selectAll().execute()).map((r) => [
          r.patient_ref,
          r.person_id,
        ]),
      )
      await submit(codes.at(-1) as string)
      const summary = await runLinkage(context())
      expect(summary.mode).toBe('incremental')
      const added = Number(
        (await sql<{ n: number }>`select count(*)::int as n from identity.patient`.execute(t.db.kysely))
          .rows[0]?.n,
      )
      expect(summary.pending).toBe(added - before.size)
      // Compared with neighbours only, not with the whole vault.
      expect(summary.records).toBeLessThan(added)
      expect(summary.records).toBeGreaterThan(summary.pending)
      const evaluation = await evaluateAgainstTruth(t.db.kysely, t.keyring, truth)
      expect(evaluation.missing).toBeLessThan(5)
      expect(evaluation.pairwise.f1).toBeGreaterThanOrEqual(0.99)
      // A person id keeps its meaning: an earlier patient is still with its person, or that person
      // was merged into the one it now has.
      for (const [ref, person] of before) {
        const now = await personOf(ref)
        if (now === person) continue
        const old = await t.db.kysely
          .selectFrom('identity.person')
          .select('merged_into')
          .where('id', '=', person)
          .executeTakeFirstOrThrow()
        expect(old.merged_into).toBe(now)
      }
      // Tokens for every patient, and none is a name or a date in clear.
      const tokens = await sql<{ patients: number; width: number }>`
        select count(distinct patient_ref)::int as patients, max(length(token))::int as width
        from identity.link_token`.execute(t.db.kysely)
      expect(tokens.rows[0]).toEqual({ patients: added, width: 16 })
      const stored = JSON.stringify(
        (await sql`select encode(token, 'escape') as t from identity.link_token`.execute(t.db.kysely)).rows,
      )
      for (const canary of canaries) expect(stored).not.toContain(canary)
      // A full run from scratch finds the same persons.
      const full = await runLinkage(context(), { mode: 'full' })
      expect(full.merges + full.splits).toBeLessThanOrEqual(1)
      const after = await evaluateAgainstTruth(t.db.kysely, t.keyring, truth)
      expect(Math.abs(after.pairwise.f1 - evaluation.pairwise.f1)).toBeLessThan(0.01)
    },
  )

  it.runIf(HAS_SHARED_DATA)(
    'a linkage reviewer reviews through the API: the pair side by side, audited; the decision is final',
    async () => {
      const auth = authContext(server.runtime)
      const { code } = await createAccount(auth, {
        username: 'r.linker',
        roles: ['linkage_reviewer'],
        actor: 'test',
      })
      const { secret } = await setUpAccount(auth, {
        username: 'r.linker',
        code,
        password: 'reviewer-password-1',
      })
      const { token, csrf } = await signIn(auth, {
        username: 'r.linker',
        password: 'reviewer-password-1',
        code: generateSync({ secret }),
        source: 'test',
      })
      const headers = { cookie: `tokumei_session=${token}`, 'x-csrf-token': csrf }
      // Two patients of different persons, proposed as a pair for review.
      const [x, y] = (
        await sql<{ ref: number }>`
          select max(patient_ref)::int as ref from clinical.patient_person group by person_id order by 1 desc limit 2`.execute(
          t.db.kysely,
        )
      ).rows
        .map((r) => r.ref)
        .sort((p, q) => p - q) as [number, number]
      const run = (await t.db.kysely.selectFrom('identity.link_run').select('id').executeTakeFirstOrThrow())
        .id
      await t.db.kysely
        .insertInto('identity.link_pair')
        .values({ a_ref: x, b_ref: y, weight: -5, explanation: '{"fields":[]}', run_id: run })
        .onConflict((oc) => oc.doNothing())
        .execute()
      const listed = await server.app.inject({
        method: 'GET',
        url: '/api/core/v1/link/pairs?limit=1000',
        headers,
      })
      expect(listed.statusCode).toBe(200)
      expect(listed.json().pairs).toContainEqual(expect.objectContaining({ a: x, b: y }))
      // The list holds no personal data; the side-by-side view does, and is audited.
      for (const canary of canaries) expect(listed.body).not.toContain(canary)
      const shown = await server.app.inject({
        method: 'GET',
        url: `/api/core/v1/link/pairs/${y}/${x}`,
        headers,
      })
      expect(shown.statusCode).toBe(200)
      const pair = shown.json().pair
      expect(pair).toMatchObject({ state: 'review', a: { ref: x }, b: { ref: y } })
      expect(typeof pair.a.identity.surname).toBe('string')
      expect(codes).toContain(pair.a.institution)
      const views = await t.db.kysely
        .selectFrom('audit.event')
        .select(['actor', 'target'])
        .where('action', '=', 'identity.view')
        .execute()
      expect(views).toContainEqual({ actor: 'account:r.linker', target: `pair:${x}-${y}` })
      for (const canary of canaries)
        expect(JSON.stringify(views), 'a name in the audit log').not.toContain(canary)
      const rejected = await server.app.inject({
        method: 'POST',
        url: `/api/core/v1/link/pairs/${x}/${y}/reject`,
        headers,
      })
      expect(rejected.json()).toEqual({ a: x, b: y, state: 'rejected' })
      const again = await server.app.inject({
        method: 'POST',
        url: `/api/core/v1/link/pairs/${x}/${y}/accept`,
        headers,
      })
      expect(again.statusCode).toBe(409)
      expect(again.json().error.code).toBe('link.not_in_review')
      const unknown = await server.app.inject({
        method: 'GET',
        url: `/api/core/v1/link/pairs/${x}/999999`,
        headers,
      })
      expect(unknown.statusCode).toBe(404)
      // The rejection binds the next run: the two stay apart.
      await runLinkage(context())
      expect(await personOf(x)).not.toBe(await personOf(y))
    },
  )

  it.runIf(HAS_SHARED_DATA)(
    'a rejected pair splits its person, an accepted pair merges two, both recorded',
    async () => {
      // Two patients of one person, and one patient of another.
      const { rows } = await sql<{ person_id: number; refs: number[] }>`
      select person_id, array_agg(patient_ref order by patient_ref) as refs from clinical.patient_person
      group by person_id having count(*) = 2 order by person_id limit 1`.execute(t.db.kysely)
      const together = rows[0] as { person_id: number; refs: number[] }
      const [a, b] = together.refs.map(Number) as [number, number]
      const other = (
        await t.db.kysely
          .selectFrom('clinical.patient_person')
          .select('patient_ref')
          .where('person_id', '<>', together.person_id)
          .orderBy('patient_ref')
          .executeTakeFirstOrThrow()
      ).patient_ref
      const run = (await t.db.kysely.selectFrom('identity.link_run').select('id').executeTakeFirstOrThrow())
        .id
      // As if the model had been unsure of both pairs.
      await t.db.kysely
        .insertInto('identity.link_pair')
        .values([
          { a_ref: a, b_ref: b, weight: 0, explanation: '{}', run_id: run },
          { a_ref: Math.min(a, other), b_ref: Math.max(a, other), weight: 0, explanation: '{}', run_id: run },
        ])
        .onConflict((oc) => oc.doNothing())
        .execute()
      const reviewer = { db: t.db.kysely, keyring: t.keyring, actor: 'account:reviewer' }
      await decidePair(reviewer, { a, b, decision: 'rejected' })
      await decidePair(reviewer, { a: other, b: a, decision: 'accepted' })
      await expect(decidePair(reviewer, { a, b, decision: 'accepted' })).rejects.toMatchObject({
        code: 'link.not_in_review',
      })
      // The decisions make their patients pending: the next (incremental) run applies them.
      const summary = await runLinkage(context())
      expect(summary.mode).toBe('incremental')
      expect(await personOf(a)).not.toBe(await personOf(b))
      expect(await personOf(a)).toBe(await personOf(other))
      const person = (id: number) =>
        t.db.kysely
          .selectFrom('identity.person')
          .select(['merged_into', 'split_from'])
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      // The old person of a and b either kept one of them, or (holding none) was merged into another;
      // a part that left it under a new person names it as where it split from.
      const holders = new Set([await personOf(a), await personOf(b)])
      if (!holders.has(together.person_id))
        expect((await person(together.person_id)).merged_into).not.toBeNull()
      for (const holder of holders)
        if (holder !== together.person_id && holder !== (await personOf(other)))
          expect((await person(holder)).split_from).toBe(together.person_id)
      expect(summary.pending).toBe(3)
    },
  )
})
