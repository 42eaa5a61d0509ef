import { type Kysely, sql } from 'kysely'
import type { Schema } from '../db/index.js'
import type { PatientIdentity } from '../model/index.js'
import type { Keyring } from '../security/index.js'

/**
 * The identity vault: one row per patient per institution, the personal data encrypted with the
 * identity key and bound to its row, the hospital's patient ID present only as a keyed hash.
 */
type Db = Kysely<Schema>

export interface VaultPatient {
  readonly patientRef: number
  readonly identity: PatientIdentity
  readonly firstSeen: string | null
}

/**
 * The keyed hash of a hospital patient ID. The ID is NFKC-normalised and trimmed first, so that a
 * full-width ID from one system and a half-width one from another are the same patient.
 */
export function localPatientHash(keyring: Keyring, institutionCode: string, localId: string): Buffer {
  return keyring.keyedHash('local-patient-id', `${institutionCode}\u0000${localId.normalize('NFKC').trim()}`)
}

const cipherContext = (institutionId: number, hash: Uint8Array) => ({
  table: 'identity.patient',
  column: 'identity_enc',
  row: `${institutionId}:${Buffer.from(hash).toString('hex')}`,
})

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/** One vault row's identity, decrypted (bound to its institution and hash: a moved row does not open). */
const openIdentity = (
  keyring: Keyring,
  row: { institution_id: number; local_hash: Uint8Array; identity_enc: Uint8Array },
): PatientIdentity =>
  JSON.parse(
    keyring.decryptText('identity', row.identity_enc, cipherContext(row.institution_id, row.local_hash)),
  ) as PatientIdentity

/** The vault entries of these patients, by hash (hex). */
export async function findVaultPatients(
  db: Db,
  keyring: Keyring,
  institutionId: number,
  hashes: readonly Buffer[],
): Promise<Map<string, VaultPatient>> {
  const found = new Map<string, VaultPatient>()
  if (hashes.length === 0) return found
  const rows = await db
    .selectFrom('identity.patient')
    .select([
      'patient_ref',
      'institution_id',
      'local_hash',
      'identity_enc',
      sql<string | null>`first_seen::text`.as('first_seen'),
    ])
    .where('institution_id', '=', institutionId)
    .where('local_hash', '=', sql<Uint8Array>`any(${hashes}::bytea[])`)
    .execute()
  for (const row of rows) {
    found.set(hex(row.local_hash), {
      patientRef: row.patient_ref,
      identity: openIdentity(keyring, row),
      firstSeen: row.first_seen,
    })
  }
  return found
}

/** Every identity in the vault (the linkage job's input), decrypted; in patient_ref order. */
export async function readAllIdentities(
  db: Db,
  keyring: Keyring,
): Promise<Array<{ patientRef: number; institutionId: number; identity: PatientIdentity }>> {
  const rows = await db
    .selectFrom('identity.patient')
    .select(['patient_ref', 'institution_id', 'local_hash', 'identity_enc'])
    .orderBy('patient_ref')
    .execute()
  return rows.map((row) => ({
    patientRef: row.patient_ref,
    institutionId: row.institution_id,
    identity: openIdentity(keyring, row),
  }))
}

/** The identities of these patients (for incremental linkage: pending patients and their neighbours). */
export async function readIdentities(
  db: Db,
  keyring: Keyring,
  refs: readonly number[],
): Promise<Array<{ patientRef: number; institutionId: number; identity: PatientIdentity }>> {
  const out: Array<{ patientRef: number; institutionId: number; identity: PatientIdentity }> = []
  for (let i = 0; i < refs.length; i += 10_000) {
    const rows = await db
      .selectFrom('identity.patient')
      .select(['patient_ref', 'institution_id', 'local_hash', 'identity_enc'])
      .where(sql<boolean>`patient_ref = any(${refs.slice(i, i + 10_000)}::bigint[])`)
      .orderBy('patient_ref')
      .execute()
    for (const row of rows)
      out.push({
        patientRef: row.patient_ref,
        institutionId: row.institution_id,
        identity: openIdentity(keyring, row),
      })
  }
  return out
}

/** The newer identity over the older: fields it has replace, fields it lacks stay; phones are merged. */
export function mergeIdentity(older: PatientIdentity | undefined, newer: PatientIdentity): PatientIdentity {
  if (!older) return newer
  const merged: Record<string, unknown> = { ...older }
  for (const [key, value] of Object.entries(newer)) {
    if (key === 'phones') continue
    if (value !== undefined && value !== '') merged[key] = value
  }
  merged.phones = [...new Set([...older.phones, ...newer.phones])]
  return merged as unknown as PatientIdentity
}

export interface IdentityWrite {
  readonly hash: Buffer
  readonly identity: PatientIdentity
  readonly firstSeen: string | null
}

/** Inserts or replaces identities; returns each one's patient_ref by hash (hex). */
export async function storeIdentities(
  db: Db,
  keyring: Keyring,
  institutionId: number,
  writes: readonly IdentityWrite[],
): Promise<Map<string, number>> {
  const refs = new Map<string, number>()
  if (writes.length === 0) return refs
  const hashes = writes.map((w) => w.hash)
  const sealed = writes.map((w) =>
    keyring.encrypt('identity', JSON.stringify(w.identity), cipherContext(institutionId, w.hash)),
  )
  const firstSeen = writes.map((w) => w.firstSeen)
  const { rows } = await sql<{ patient_ref: number; local_hash: Uint8Array }>`
    insert into identity.patient (institution_id, local_hash, identity_enc, first_seen)
    select ${institutionId}, h, e, f from unnest(${hashes}::bytea[], ${sealed}::bytea[], ${firstSeen}::date[]) as u(h, e, f)
    on conflict (institution_id, local_hash) do update
      set identity_enc = excluded.identity_enc,
          first_seen = least(identity.patient.first_seen, excluded.first_seen),
          updated_at = now()
    returning patient_ref, local_hash`.execute(db)
  for (const row of rows) refs.set(hex(row.local_hash), row.patient_ref)
  return refs
}

/** Hashes (hex) among these that have a refusal (提供停止) on record. */
export async function findOptOuts(
  db: Db,
  institutionId: number,
  hashes: readonly Buffer[],
): Promise<Set<string>> {
  if (hashes.length === 0) return new Set()
  const rows = await db
    .selectFrom('identity.optout')
    .select('local_hash')
    .where('institution_id', '=', institutionId)
    .where('local_hash', '=', sql<Uint8Array>`any(${hashes}::bytea[])`)
    .execute()
  return new Set(rows.map((r) => hex(r.local_hash)))
}

/** Removes a patient's vault entry; returns its patient_ref, if there was one. */
export async function deleteVaultPatient(
  db: Db,
  institutionId: number,
  hash: Buffer,
): Promise<number | undefined> {
  const row = await db
    .deleteFrom('identity.patient')
    .where('institution_id', '=', institutionId)
    .where('local_hash', '=', hash)
    .returning('patient_ref')
    .executeTakeFirst()
  return row?.patient_ref
}

/** The advisory lock class of vault writes; the second key is the institution. */
const VAULT_LOCK = 0x746b_0001

/**
 * Serialises, until the transaction ends, everything that writes one institution's part of the vault:
 * two intake workers must not both create or both merge into the same patient, and an opt-out must
 * not interleave with a batch that read the opt-out list before it was registered.
 */
export async function lockInstitutionVault(db: Kysely<Schema>, institutionId: number): Promise<void> {
  await sql`select pg_advisory_xact_lock(${VAULT_LOCK}::int, ${institutionId}::int)`.execute(db)
}

/**
 * The identifiers a patient's own documents may name them by, to be scrubbed out of them: names (as
 * written, in kana, surname alone), address, phones, the hospital's patient ID and insurance numbers,
 * the birth date. For the release build's scrubber only; never written anywhere.
 */
export interface OwnIdentifiers {
  readonly names: string[]
  readonly addresses: string[]
  readonly phones: string[]
  readonly ids: string[]
  readonly dates: string[]
}

export async function ownIdentifiers(
  db: Db,
  keyring: Keyring,
  refs: readonly number[],
): Promise<Map<number, OwnIdentifiers>> {
  const out = new Map<number, OwnIdentifiers>()
  for (const { patientRef, identity: i } of await readIdentities(db, keyring, refs)) {
    const names = [
      [i.surname, i.given].filter(Boolean).join(''),
      [i.surname, i.given].filter(Boolean).join(' '),
      [i.surnameKana, i.givenKana].filter(Boolean).join(''),
      [i.surnameKana, i.givenKana].filter(Boolean).join(' '),
      i.surname ?? '',
      i.surnameKana ?? '',
    ].filter((n) => n.trim() !== '')
    out.set(patientRef, {
      names: [...new Set(names)],
      addresses: i.address ? [i.address] : [],
      phones: [...i.phones],
      ids: [
        i.localId,
        i.insuredNumber,
        i.insuredSymbol && i.insuredNumber ? `${i.insuredSymbol}・${i.insuredNumber}` : undefined,
      ].filter((v): v is string => typeof v === 'string' && v.trim() !== ''),
      dates: i.birthDate ? [i.birthDate] : [],
    })
  }
  return out
}
