import { type Kysely, sql } from 'kysely'
import type { Schema } from '../db/index.js'
import { TokumeiError } from '../model/index.js'
import { type Keyring, recordAuditEvent } from '../security/index.js'
import { type Evaluation, evaluateClusters } from './linkage/evaluate.js'
import { FIELDS } from './linkage/fields.js'
import { type LinkInput, linkRecords } from './linkage/link.js'
import { comparePair, explain } from './linkage/model.js'
import type { VariantTable } from './normalize/index.js'
import { localPatientHash, readAllIdentities } from './vault.js'

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
}

export interface LinkRunSummary {
  readonly run: number
  readonly records: number
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

export async function runLinkage(context: LinkageContext): Promise<LinkRunSummary> {
  const startedAt = new Date()
  const vault = await readAllIdentities(context.db, context.keyring)
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
  const result = linkRecords(inputs, {
    variants: context.variants,
    accepted: decided('accepted'),
    rejected: decided('rejected'),
  })

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
    const run = await trx
      .insertInto('identity.link_run')
      .values({
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
        model: JSON.stringify({
          fields: result.model.fields,
          levels: result.model.levels,
          m: result.model.m.map((x) => Array.from(x)),
          u: result.model.u.map((x) => Array.from(x)),
          lambda: result.model.lambda,
          passes: result.model.passes,
        }),
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
        const why = explain(result.model, FIELDS, result.frequencies, a, comparePair(FIELDS, a, b))
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
        records: vault.length,
        persons: clusters.size,
        links: result.links.length,
        review: review.length,
        merges,
        splits,
      },
    })
    return {
      run: run.id,
      records: vault.length,
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
