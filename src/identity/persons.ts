import { type Kysely, sql } from 'kysely'
import type { Schema } from '../db/index.js'
import type { PatientIdentity } from '../model/index.js'
import { TokumeiError } from '../model/index.js'
import { type Keyring, recordAuditEvent } from '../security/index.js'
import { PASSES } from './linkage/blocking.js'
import { type Evaluation, evaluateClusters } from './linkage/evaluate.js'
import { FIELDS, type LinkRecord, linkRecord } from './linkage/fields.js'
import { type LinkInput, type LinkOptions, linkRecords } from './linkage/link.js'
import { comparePair, explain, type Frequencies, type Model } from './linkage/model.js'
import { normalizeIdentity, type VariantTable } from './normalize/index.js'
import { localPatientHash, readAllIdentities, readIdentities } from './vault.js'

/**
 * Linkage against the store: the job reads every identity in the vault (the only place personal data
 * is decrypted for linkage), links them in memory, and records the outcome in one transaction —
 * persons (kept stable: a person keeps its id while most of its patients stay together; a merge
 * marks the absorbed person `merged_into`, a part that leaves gets a new person `split_from` the
 * old), `clinical.patient_person`, the pairs for review, and the run. Reviewers' decisions are final
 * and bind every later run.
 */
type Db = Kysely<Schema>

export interface LinkageContext {
  readonly db: Db
  readonly keyring: Keyring
  readonly actor: string
  readonly variants: VariantTable
  readonly job?: { readonly id: number; readonly kind: string }
  /** Match weights from which a pair is linked and reviewed (defaults: −2 and −8). */
  readonly thresholds?: { readonly link: number; readonly review: number }
}

export interface LinkRunSummary {
  readonly run: number
  readonly mode: LinkMode
  /** Records read and compared … */
  readonly records: number
  /** … of which were linked now (all in a full run; new or changed patients in an incremental one). */
  readonly pending: number
  readonly candidates: number
  readonly links: number
  readonly review: number
  readonly persons: number
  readonly merges: number
  readonly splits: number
  readonly passes: ReadonlyArray<{ name: string; pairs: number; newPairs: number }>
  readonly timings: Readonly<Record<string, number>>
}

const pairKey = (a: number, b: number) => `${Math.min(a, b)}:${Math.max(a, b)}`

/** Full: every patient relinked and the model trained anew. Incremental: patients not yet linked only. */
export type LinkMode = 'full' | 'incremental'

export interface LinkRunOptions {
  /** `auto` (default): incremental when an earlier run's model exists and at most half are pending. */
  readonly mode?: LinkMode | 'auto'
  readonly onStage?: LinkOptions['onStage']
}

/** A blocking key as stored: the pass's name and the key under the `link-blocking` keyed hash. */
const TOKEN_BYTES = 16
function tokensOf(keyring: Keyring, record: LinkRecord): Array<{ pass: number; token: Buffer }> {
  const out: Array<{ pass: number; token: Buffer }> = []
  PASSES.forEach((pass, p) => {
    for (const key of pass.keys(record))
      out.push({
        pass: p,
        token: keyring.keyedHash('link-blocking', `${pass.name}\u0000${key}`).subarray(0, TOKEN_BYTES),
      })
  })
  return out
}

/** A name's frequency is stored under a keyed hash of the name (the model never holds a name). */
const frequencyKey = (keyring: Keyring, value: string) =>
  keyring.keyedHash('link-frequency', value).subarray(0, 8).toString('hex')
/** Frequencies below this are not kept with the model (a rare name weighs like an average one). */
const KEPT_FREQUENCY = 1e-4

interface StoredModel {
  readonly fields: string[]
  readonly levels: string[][]
  readonly m: number[][]
  readonly u: number[][]
  readonly lambda: number
  readonly passes: Model['passes']
  readonly blocking?: string[]
  readonly frequencies?: Record<string, Record<string, number>>
}

function storeModel(keyring: Keyring, model: Model, frequencies: Frequencies): StoredModel {
  const kept: Record<string, Record<string, number>> = {}
  FIELDS.forEach((field, f) => {
    const table = frequencies[f]
    if (!table) return
    const out: Record<string, number> = {}
    for (const [value, frequency] of table)
      if (frequency >= KEPT_FREQUENCY) out[frequencyKey(keyring, value)] = frequency
    kept[field.name] = out
  })
  return {
    fields: [...model.fields],
    levels: model.levels.map((l) => [...l]),
    m: model.m.map((x) => Array.from(x)),
    u: model.u.map((x) => Array.from(x)),
    lambda: model.lambda,
    passes: model.passes,
    blocking: PASSES.map((p) => p.name),
    frequencies: kept,
  }
}

/** The latest run's model, if it fits today's fields and blocking passes (else a full run is due). */
async function latestModel(db: Db): Promise<StoredModel | undefined> {
  const row = await db
    .selectFrom('identity.link_run')
    .select('model')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst()
  const model = row?.model as StoredModel | undefined
  if (!model?.frequencies || !model.blocking) return undefined
  const same = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && a.every((x, i) => x === b[i])
  if (
    !same(
      model.fields,
      FIELDS.map((f) => f.name),
    )
  )
    return undefined
  if (
    !same(
      model.blocking,
      PASSES.map((p) => p.name),
    )
  )
    return undefined
  if (!FIELDS.every((f, i) => same(f.levels, model.levels[i] ?? []))) return undefined
  return model
}

/** The stored model, and the frequency of a name by the keyed hash of the name. */
function restoreModel(
  keyring: Keyring,
  stored: StoredModel,
): { model: Model; frequency: (field: string, value: string) => number | undefined } {
  return {
    model: {
      fields: stored.fields,
      levels: stored.levels,
      m: stored.m.map((x) => Float64Array.from(x)),
      u: stored.u.map((x) => Float64Array.from(x)),
      lambda: stored.lambda,
      passes: stored.passes,
    },
    frequency: (field, value) => stored.frequencies?.[field]?.[frequencyKey(keyring, value)],
  }
}

/**
 * Patients to link: not linked yet, their identity changed since the last run began, or a reviewer
 * decided a pair of theirs since then (the decision binds from the next run).
 */
async function pendingPatients(db: Db): Promise<number[]> {
  const rows = await sql<{ patient_ref: number }>`
    select p.patient_ref from identity.patient p
    left join clinical.patient_person pp on pp.patient_ref = p.patient_ref
    where pp.patient_ref is null or p.updated_at >= (select max(started_at) from identity.link_run)
    union
    select unnest(array[d.a_ref, d.b_ref]) from identity.link_pair d
    where d.decided_at >= (select max(started_at) from identity.link_run)
    order by 1`.execute(db)
  return rows.rows.map((r) => Number(r.patient_ref))
}

/**
 * The patients an incremental run compares the pending ones with: those sharing a blocking token
 * (blocks larger than `maxBlock` skipped, as in memory), and every patient of their persons — so that
 * whole persons take part and a bridge between two persons is seen as a merge.
 */
async function neighbours(
  db: Db,
  tokens: ReadonlyArray<{ pass: number; token: Buffer }>,
  pending: ReadonlySet<number>,
) {
  const byToken = new Map<string, number[]>()
  for (let i = 0; i < tokens.length; i += 5000) {
    const slice = tokens.slice(i, i + 5000)
    const rows = await sql<{ pass: number; token: Uint8Array; patient_ref: number }>`
      select t.pass, t.token, t.patient_ref
      from identity.link_token t
      join unnest(${slice.map((t) => t.pass)}::smallint[], ${slice.map((t) => t.token)}::bytea[]) as q(pass, token)
        on t.pass = q.pass and t.token = q.token`.execute(db)
    for (const row of rows.rows) {
      if (pending.has(Number(row.patient_ref))) continue
      const key = `${row.pass}:${Buffer.from(row.token).toString('hex')}`
      const list = byToken.get(key) ?? []
      list.push(Number(row.patient_ref))
      byToken.set(key, list)
    }
  }
  // The pending patients' own persons take part too (a changed patient may leave its person).
  const found = new Set<number>(pending)
  for (const refs of byToken.values()) if (refs.length < MAX_BLOCK) for (const ref of refs) found.add(ref)
  const members = await sql<{ patient_ref: number; person_id: number }>`
    select patient_ref, person_id from clinical.patient_person
    where person_id in (select person_id from clinical.patient_person where patient_ref = any(${[...found]}::bigint[]))`.execute(
    db,
  )
  const personOf = new Map(members.rows.map((r) => [Number(r.patient_ref), Number(r.person_id)]))
  return { refs: [...personOf.keys()].filter((r) => !pending.has(r)), personOf }
}

const MAX_BLOCK = 300

export async function runLinkage(
  context: LinkageContext,
  options: LinkRunOptions = {},
): Promise<LinkRunSummary> {
  const startedAt = new Date()
  const stored = options.mode === 'full' ? undefined : await latestModel(context.db)
  const pendingRefs = stored ? await pendingPatients(context.db) : []
  const total = stored
    ? Number(
        (
          await context.db
            .selectFrom('identity.patient')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      )
    : 0
  if (options.mode === 'incremental' && !stored)
    throw new TokumeiError(
      'No earlier linkage run fits the current fields and passes: run a full linkage first (tokumei link run --full).',
      { code: 'link.no_model', kind: 'conflict' },
    )
  const incremental =
    stored !== undefined && (options.mode === 'incremental' || pendingRefs.length <= total / 2)
  const mode: LinkMode = incremental ? 'incremental' : 'full'

  let vault: Array<{ patientRef: number; institutionId: number; identity: PatientIdentity }>
  let pending: boolean[] | undefined
  let together: Array<[number, number]> | undefined
  const personOfRef = new Map<number, number>()
  if (incremental) {
    const pendingSet = new Set(pendingRefs)
    const fresh = await readIdentities(context.db, context.keyring, pendingRefs)
    const tokens = fresh.flatMap((v, index) =>
      tokensOf(
        context.keyring,
        linkRecord(
          normalizeIdentity(v.identity, context.variants),
          index,
          String(v.institutionId),
          String(v.patientRef),
        ),
      ),
    )
    const around = await neighbours(context.db, tokens, pendingSet)
    const known = await readIdentities(context.db, context.keyring, around.refs)
    vault = [...fresh, ...known]
    pending = vault.map((v) => pendingSet.has(v.patientRef))
    for (const [ref, person] of around.personOf) personOfRef.set(ref, person)
    // One person's patients stay together: a chain through each person's records.
    const last = new Map<number, number>()
    together = []
    vault.forEach((v, i) => {
      const person = personOfRef.get(v.patientRef)
      if (person === undefined || pendingSet.has(v.patientRef)) return
      const previous = last.get(person)
      if (previous !== undefined) together?.push([previous, i])
      last.set(person, i)
    })
  } else vault = await readAllIdentities(context.db, context.keyring)

  const indexOf = new Map(vault.map((v, i) => [v.patientRef, i]))
  const decisions = await context.db
    .selectFrom('identity.link_pair')
    .select(['a_ref', 'b_ref', 'state'])
    .where('state', '<>', 'review')
    .execute()
  const decided = (state: 'accepted' | 'rejected') =>
    decisions
      .filter((d) => d.state === state && indexOf.has(d.a_ref) && indexOf.has(d.b_ref))
      .map((d) => [indexOf.get(d.a_ref) as number, indexOf.get(d.b_ref) as number] as const)
  const inputs: LinkInput[] = vault.map((v) => ({
    institution: String(v.institutionId),
    localKey: String(v.patientRef),
    identity: v.identity,
  }))
  const trained = stored && incremental
  const result = await linkRecords(inputs, {
    variants: context.variants,
    ...(context.thresholds
      ? { linkWeight: context.thresholds.link, reviewWeight: context.thresholds.review }
      : {}),
    accepted: decided('accepted'),
    rejected: decided('rejected'),
    maxBlock: MAX_BLOCK,
    onStage: options.onStage,
    ...(trained
      ? {
          trained: restoreModel(context.keyring, stored),
          pending,
          together,
        }
      : {}),
  })
  const tokenRows = (incremental ? result.records.filter((_, i) => pending?.[i]) : result.records).flatMap(
    (record) => tokensOf(context.keyring, record).map((t) => ({ ...t, ref: Number(record.localKey) })),
  )

  // Clusters as lists of patient refs.
  const clusters = new Map<number, number[]>()
  result.clustering.clusterOf.forEach((root, i) => {
    const list = clusters.get(root)
    const ref = (vault[i] as { patientRef: number }).patientRef
    if (list) list.push(ref)
    else clusters.set(root, [ref])
  })

  return context.db.transaction().execute(async (trx) => {
    const current = new Map(
      (await trx.selectFrom('clinical.patient_person').select(['patient_ref', 'person_id']).execute()).map(
        (r) => [r.patient_ref, r.person_id],
      ),
    )
    // Each existing person's home: the cluster holding most of its patients.
    const tally = new Map<number, Map<number, number>>()
    for (const [root, refs] of clusters)
      for (const ref of refs) {
        const person = current.get(ref)
        if (person === undefined) continue
        const counts = tally.get(person) ?? new Map<number, number>()
        counts.set(root, (counts.get(root) ?? 0) + 1)
        tally.set(person, counts)
      }
    const homeOf = new Map<number, { root: number; count: number }>()
    for (const [person, counts] of tally) {
      let best = { root: -1, count: -1 }
      for (const [root, count] of counts) if (count > best.count) best = { root, count }
      homeOf.set(person, best)
    }
    const personsAt = new Map<number, Array<{ person: number; count: number }>>()
    for (const [person, home] of homeOf) {
      const list = personsAt.get(home.root) ?? []
      list.push({ person, count: home.count })
      personsAt.set(home.root, list)
    }
    let merges = 0
    let splits = 0
    const assignment = new Map<number, number>()
    for (const [root, refs] of clusters) {
      const homed = (personsAt.get(root) ?? []).sort((x, y) => y.count - x.count || x.person - y.person)
      let person: number
      if (homed.length > 0) {
        person = (homed[0] as { person: number }).person
        for (const absorbed of homed.slice(1)) {
          await trx
            .updateTable('identity.person')
            .set({ merged_into: person, merged_at: sql`now()` })
            .where('id', '=', absorbed.person)
            .execute()
          merges++
        }
      } else {
        // No person calls this cluster home: a new person — split from one, if its patients had one.
        const previous = refs.map((r) => current.get(r)).find((p) => p !== undefined)
        const created = await trx
          .insertInto('identity.person')
          .values({ split_from: previous ?? null })
          .returning('id')
          .executeTakeFirstOrThrow()
        person = created.id
        if (previous !== undefined) splits++
      }
      for (const ref of refs) assignment.set(ref, person)
    }
    const changed = [...assignment].filter(([ref, person]) => current.get(ref) !== person)
    for (let i = 0; i < changed.length; i += 5000) {
      const slice = changed.slice(i, i + 5000)
      await sql`
        insert into clinical.patient_person (patient_ref, person_id)
        select * from unnest(${slice.map(([r]) => r)}::bigint[], ${slice.map(([, p]) => p)}::bigint[])
        on conflict (patient_ref) do update set person_id = excluded.person_id, linked_at = now()`.execute(
        trx,
      )
    }
    // The blocking tokens of the patients linked now (all of them in a full run).
    if (mode === 'full') await trx.deleteFrom('identity.link_token').execute()
    else if (pendingRefs.length > 0)
      await trx
        .deleteFrom('identity.link_token')
        .where(sql<boolean>`patient_ref = any(${pendingRefs}::bigint[])`)
        .execute()
    for (let i = 0; i < tokenRows.length; i += 10_000) {
      const slice = tokenRows.slice(i, i + 10_000)
      await sql`
        insert into identity.link_token (pass, token, patient_ref)
        select * from unnest(${slice.map((t) => t.pass)}::smallint[], ${slice.map((t) => t.token)}::bytea[], ${slice.map((t) => t.ref)}::bigint[])
        on conflict do nothing`.execute(trx)
    }
    const run = await trx
      .insertInto('identity.link_run')
      .values({
        mode,
        pending: pending ? pendingRefs.length : vault.length,
        job_id: context.job?.id ?? null,
        started_at: startedAt,
        records: vault.length,
        candidates: result.candidates,
        links: result.links.length,
        review: result.review.length,
        persons: clusters.size,
        merges,
        splits,
        passes: JSON.stringify(result.passes),
        model: JSON.stringify(
          trained ? stored : storeModel(context.keyring, result.model, result.frequencies),
        ),
        timings: JSON.stringify(result.timings),
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    // Pairs for review: new ones are added; decided ones keep their decision.
    const known = new Set(decisions.map((d) => pairKey(d.a_ref, d.b_ref)))
    const review = result.review
      .map((pair) => {
        const a = result.records[pair.a] as (typeof result.records)[number]
        const b = result.records[pair.b] as (typeof result.records)[number]
        const why = explain(
          result.model,
          FIELDS,
          result.frequencies,
          result.table,
          pair.a,
          comparePair(FIELDS, result.table, pair.a, pair.b),
        )
        const refA = Number(a.localKey)
        const refB = Number(b.localKey)
        return {
          a_ref: Math.min(refA, refB),
          b_ref: Math.max(refA, refB),
          weight: pair.weight,
          explanation: JSON.stringify(why),
          run_id: run.id,
        }
      })
      .filter((p) => !known.has(pairKey(p.a_ref, p.b_ref)))
    for (let i = 0; i < review.length; i += 1000)
      await trx
        .insertInto('identity.link_pair')
        .values(review.slice(i, i + 1000))
        .onConflict((oc) =>
          oc.columns(['a_ref', 'b_ref']).doUpdateSet((eb) => ({
            weight: eb.ref('excluded.weight'),
            explanation: eb.ref('excluded.explanation'),
            run_id: eb.ref('excluded.run_id'),
          })),
        )
        .execute()
    // The vault read and the run, last in the transaction (the audit chain's lock is held to commit).
    await recordAuditEvent(trx, context.keyring, {
      actor: context.actor,
      action: 'identity.read',
      target: `link_run:${run.id}`,
      detail: { patients: vault.length, job: context.job?.id ?? null, kind: context.job?.kind ?? null },
    })
    await recordAuditEvent(trx, context.keyring, {
      actor: context.actor,
      action: 'link.run',
      target: `link_run:${run.id}`,
      detail: {
        mode,
        records: vault.length,
        pending: pending ? pendingRefs.length : vault.length,
        persons: clusters.size,
        links: result.links.length,
        review: review.length,
        merges,
        splits,
      },
    })
    return {
      run: run.id,
      mode,
      records: vault.length,
      pending: pending ? pendingRefs.length : vault.length,
      candidates: result.candidates,
      links: result.links.length,
      review: review.length,
      persons: clusters.size,
      merges,
      splits,
      passes: result.passes.map((p) => ({ name: p.name, pairs: p.pairs, newPairs: p.newPairs })),
      timings: result.timings,
    }
  })
}

export interface ReviewPair {
  readonly a: number
  readonly b: number
  readonly weight: number
  readonly explanation: unknown
}

export async function pairsToReview(db: Db, limit = 50): Promise<ReviewPair[]> {
  const rows = await db
    .selectFrom('identity.link_pair')
    .select(['a_ref', 'b_ref', 'weight', 'explanation'])
    .where('state', '=', 'review')
    .orderBy('weight', 'desc')
    .limit(limit)
    .execute()
  return rows.map((r) => ({ a: r.a_ref, b: r.b_ref, weight: r.weight, explanation: r.explanation }))
}

export interface PairView {
  readonly weight: number
  readonly state: 'review' | 'accepted' | 'rejected'
  readonly explanation: unknown
  readonly a: { readonly ref: number; readonly institution: string; readonly identity: PatientIdentity }
  readonly b: { readonly ref: number; readonly institution: string; readonly identity: PatientIdentity }
}

/**
 * A proposed pair with both patients' identities side by side, for a linkage reviewer to decide: the
 * one view that shows personal data, and every showing is audited (who, which pair) in the same
 * transaction as the read.
 */
export async function viewPair(
  context: { db: Db; keyring: Keyring; actor: string },
  input: { a: number; b: number },
): Promise<PairView> {
  const [a, b] = [Math.min(input.a, input.b), Math.max(input.a, input.b)]
  return context.db.transaction().execute(async (trx) => {
    const pair = await trx
      .selectFrom('identity.link_pair')
      .select(['weight', 'state', 'explanation'])
      .where('a_ref', '=', a)
      .where('b_ref', '=', b)
      .executeTakeFirst()
    if (!pair)
      throw new TokumeiError(`Pair ${a}–${b} was never proposed for review.`, {
        code: 'link.pair_not_found',
        kind: 'not_found',
      })
    const identities = await readIdentities(trx, context.keyring, [a, b])
    const institutions = new Map(
      (await trx.selectFrom('governance.institution').select(['id', 'code']).execute()).map((r) => [
        r.id,
        r.code,
      ]),
    )
    const side = (ref: number) => {
      const found = identities.find((v) => v.patientRef === ref)
      if (!found)
        throw new TokumeiError(`Patient ${ref} is no longer in the vault (deleted after a refusal).`, {
          code: 'link.patient_gone',
          kind: 'conflict',
        })
      return {
        ref,
        institution: institutions.get(found.institutionId) ?? String(found.institutionId),
        identity: found.identity,
      }
    }
    const view = {
      weight: pair.weight,
      state: pair.state,
      explanation: pair.explanation,
      a: side(a),
      b: side(b),
    }
    await recordAuditEvent(trx, context.keyring, {
      actor: context.actor,
      action: 'identity.view',
      target: `pair:${a}-${b}`,
      detail: { purpose: 'link.review', state: pair.state },
    })
    return view
  })
}

/** A reviewer's decision on a pair: final (a decided pair cannot be decided again); binds later runs. */
export async function decidePair(
  context: { db: Db; keyring: Keyring; actor: string },
  input: { a: number; b: number; decision: 'accepted' | 'rejected' },
): Promise<void> {
  const [a, b] = [Math.min(input.a, input.b), Math.max(input.a, input.b)]
  await context.db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('identity.link_pair')
      .set({ state: input.decision, decided_by: context.actor, decided_at: sql`now()` })
      .where('a_ref', '=', a)
      .where('b_ref', '=', b)
      .where('state', '=', 'review')
      .returning('a_ref')
      .executeTakeFirst()
    if (!updated)
      throw new TokumeiError(
        `Pair ${a}–${b} is not waiting for review (decided already, or never proposed).`,
        {
          code: 'link.not_in_review',
          kind: 'conflict',
        },
      )
    await recordAuditEvent(trx, context.keyring, {
      actor: context.actor,
      action: `link.${input.decision === 'accepted' ? 'accept' : 'reject'}`,
      target: `pair:${a}-${b}`,
    })
  })
}

/**
 * The current persons against a ground truth in the synth format (`person_id,institution_code,
 * local_patient_id`): each patient is found by the keyed hash of its ID, never by the ID itself.
 */
export async function evaluateAgainstTruth(
  db: Db,
  keyring: Keyring,
  truthCsv: string,
): Promise<Evaluation & { patients: number; missing: number }> {
  const lines = truthCsv.split(/\r?\n/).filter((l) => l.trim() !== '')
  const header = (lines[0] ?? '').split(',').map((h) => h.trim())
  const [person, institution, local] = ['person_id', 'institution_code', 'local_patient_id'].map((h) =>
    header.indexOf(h),
  ) as [number, number, number]
  if (person < 0 || institution < 0 || local < 0)
    throw new TokumeiError('The truth file needs the columns person_id,institution_code,local_patient_id.', {
      code: 'link.bad_truth',
      kind: 'invalid',
    })
  const rows = await db
    .selectFrom('identity.patient as p')
    .innerJoin('governance.institution as i', 'i.id', 'p.institution_id')
    .leftJoin('clinical.patient_person as pp', 'pp.patient_ref', 'p.patient_ref')
    .select(['p.local_hash', 'i.code', 'pp.person_id'])
    .execute()
  const personOf = new Map(
    rows.map((r) => [`${r.code}:${Buffer.from(r.local_hash).toString('hex')}`, r.person_id]),
  )
  // Merged persons answer as the person they were merged into.
  const merged = new Map(
    (
      await db
        .selectFrom('identity.person')
        .select(['id', 'merged_into'])
        .where('merged_into', 'is not', null)
        .execute()
    ).map((r) => [r.id, r.merged_into as number]),
  )
  const resolve = (id: number) => {
    let current = id
    for (let guard = 0; merged.has(current) && guard < 1000; guard++) current = merged.get(current) as number
    return current
  }
  const predicted: Array<number | string> = []
  const truth: string[] = []
  let missing = 0
  for (const line of lines.slice(1)) {
    const cells = line.split(',')
    const code = (cells[institution] ?? '').trim()
    const key = `${code}:${localPatientHash(keyring, code, (cells[local] ?? '').trim()).toString('hex')}`
    const found = personOf.get(key)
    if (found === undefined) {
      missing++
      continue
    }
    // A patient not linked yet is a person of its own.
    predicted.push(found === null ? `unlinked:${key}` : resolve(found))
    truth.push((cells[person] ?? '').trim())
  }
  return { ...evaluateClusters(predicted, truth), patients: predicted.length, missing }
}
