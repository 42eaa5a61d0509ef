import { type Kysely, sql } from 'kysely'
import { deletePatientData, refreshHoldings, withholdPersonOf } from '../clinical/index.js'
import type { Schema } from '../db/index.js'
import { deleteVaultPatient, localPatientHash, lockInstitutionVault } from '../identity/index.js'
import { TokumeiError } from '../model/index.js'
import { findInstitution } from './institutions.js'
import type { CoreIntakeContext } from './process.js'

/**
 * 提供停止 — a patient's refusal. It is kept as a keyed-hash tombstone of the institution's patient ID
 * (never the ID itself) that stops every later intake of that patient; data already stored — the
 * vault entry, every clinical row, imaging objects, held records — is deleted in the same
 * transaction, so no release built afterwards can contain it.
 */
type Db = Kysely<Schema>

export interface OptOutResult {
  readonly id: number
  readonly institution: string
  readonly alreadyRegistered: boolean
  readonly deletedPatients: number
  readonly deletedRecords: number
}

export async function registerOptOut(
  context: CoreIntakeContext,
  input: { institutionCode: string; patientId: string; channel: 'cli' | 'api' | 'portal'; actor: string },
): Promise<OptOutResult> {
  const institution = await findInstitution(context.db, input.institutionCode)
  if (input.patientId.trim() === '' || input.patientId.length > 64) {
    throw new TokumeiError('The patient ID must be 1 to 64 characters.', {
      code: 'optout.bad_patient_id',
      kind: 'invalid',
    })
  }
  const hash = localPatientHash(context.keyring, institution.code, input.patientId)
  const outcome = await context.db.transaction().execute(async (trx) => {
    await lockInstitutionVault(trx, institution.id)
    const inserted = await trx
      .insertInto('identity.optout')
      .values({
        institution_id: institution.id,
        local_hash: hash,
        registered_by: input.actor,
        channel: input.channel,
      })
      .onConflict((oc) => oc.columns(['institution_id', 'local_hash']).doNothing())
      .returning('id')
      .executeTakeFirst()
    const patientRef = await deleteVaultPatient(trx, institution.id, hash)
    if (patientRef !== undefined) await withholdPersonOf(trx, patientRef)
    const deleted =
      patientRef !== undefined ? await deletePatientData(trx, [patientRef]) : { records: 0, objectKeys: [] }
    const heldRows = await trx
      .deleteFrom('intake.held_record')
      .where('institution_id', '=', institution.id)
      .where('local_hash', '=', hash)
      .executeTakeFirst()
    const deletedRecords = deleted.records + Number(heldRows.numDeletedRows)
    const row = await trx
      .updateTable('identity.optout')
      .set({
        deleted_patients: sql`deleted_patients + ${patientRef !== undefined ? 1 : 0}`,
        deleted_records: sql`deleted_records + ${deletedRecords}`,
      })
      .where('institution_id', '=', institution.id)
      .where('local_hash', '=', hash)
      .returning(['id', 'deleted_patients', 'deleted_records'])
      .executeTakeFirstOrThrow()
    if (patientRef !== undefined) await refreshHoldings(trx, institution.id)
    return {
      row,
      alreadyRegistered: inserted === undefined,
      objectKeys: deleted.objectKeys,
      deletedNow: deletedRecords,
    }
  })
  // Objects go after the commit: a crash here leaves unreadable orphans, never a live reference.
  for (const key of outcome.objectKeys) context.objects.delete(key)
  await context.audit({
    action: 'optout.registered',
    target: `optout:${outcome.row.id}`,
    detail: {
      institution: institution.code,
      channel: input.channel,
      already_registered: outcome.alreadyRegistered,
      deleted_records: outcome.deletedNow,
    },
  })
  return {
    id: outcome.row.id,
    institution: institution.code,
    alreadyRegistered: outcome.alreadyRegistered,
    deletedPatients: outcome.row.deleted_patients,
    deletedRecords: outcome.row.deleted_records,
  }
}

export async function listOptOuts(db: Db): Promise<
  Array<{
    id: number
    institution: string
    registeredAt: string
    registeredBy: string
    channel: string
    deletedPatients: number
    deletedRecords: number
  }>
> {
  const rows = await db
    .selectFrom('identity.optout as o')
    .innerJoin('governance.institution as i', 'i.id', 'o.institution_id')
    .select([
      'o.id',
      'i.code',
      'o.registered_at',
      'o.registered_by',
      'o.channel',
      'o.deleted_patients',
      'o.deleted_records',
    ])
    .orderBy('o.id')
    .execute()
  return rows.map((r) => ({
    id: r.id,
    institution: r.code,
    registeredAt: r.registered_at.toISOString(),
    registeredBy: r.registered_by,
    channel: r.channel,
    deletedPatients: r.deleted_patients,
    deletedRecords: r.deleted_records,
  }))
}
