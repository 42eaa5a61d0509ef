import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Schema } from '../db/index.js'
import { localPatientHash } from '../identity/index.js'
import { enqueueJob } from '../jobs/index.js'
import { isCalendarDate, TokumeiError } from '../model/index.js'
import { type Keyring, recordAuditEvent } from '../security/index.js'
import { findInstitution } from './institutions.js'
import { registerOptOut } from './optout.js'
import type { CoreIntakeContext } from './process.js'

/**
 * A patient's 提供停止 request from the public page. The portal seals what identifies the patient (the
 * institution's patient ID and the birth date) into `governance.optout_request`, queues an
 * `optout.request` job and answers with a receipt number; the core opens the request, checks the
 * birth date against what the institution sent (when it sent anything), registers the refusal —
 * which deletes the patient's data at once — and records the outcome. The patient follows the request
 * by its receipt number, which shows nothing but the state.
 */
type Db = Kysely<Schema>

export type OptOutRequestStatus = 'received' | 'registered' | 'unconfirmed' | 'failed'

export interface OptOutRequestView {
  readonly receipt: string
  readonly institution: string
  readonly status: OptOutRequestStatus
  readonly receivedAt: string
  readonly doneAt: string | null
}

/** Crockford's base32 without I, L, O, U: a receipt read aloud over the phone is not misheard. */
const RECEIPT_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const RECEIPT = /^OR-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/

function newReceipt(): string {
  const bytes = randomBytes(12)
  const chars = [...bytes].map((b) => RECEIPT_ALPHABET[b & 31])
  return `OR-${chars.slice(0, 4).join('')}-${chars.slice(4, 8).join('')}-${chars.slice(8, 12).join('')}`
}

/** A receipt as a person may type it: lower case, full-width, spaces or no hyphens. */
export function normalizeReceipt(raw: string): string | undefined {
  const compact = raw.normalize('NFKC').toUpperCase().replace(/[\s-]/g, '').replace(/^OR/, '')
  if (compact.length !== 12) return undefined
  const receipt = `OR-${compact.slice(0, 4)}-${compact.slice(4, 8)}-${compact.slice(8)}`
  return RECEIPT.test(receipt) ? receipt : undefined
}

/** The patient ID as printed on a 診察券, typed with full-width digits or spaces around it. */
export function normalizePatientId(raw: string): string {
  const id = raw.normalize('NFKC').trim()
  if (id === '' || id.length > 64 || /[\p{Cc}\s]/u.test(id))
    throw new TokumeiError('The patient ID must be 1 to 64 characters without spaces.', {
      code: 'optout.bad_patient_id',
      kind: 'invalid',
    })
  return id
}

const sealContext = (receipt: string, column: 'patient_id_enc' | 'birth_date_enc') => ({
  table: 'governance.optout_request',
  column,
  row: receipt,
})

export interface OptOutRequestContext {
  readonly db: Db
  readonly keyring: Keyring
  /** Who asked, as the audit log names them (the page and the caller's address, never a name). */
  readonly actor: string
}

/** Portal side: seals and stores the request, queues it for the core; audited in the same transaction. */
export async function submitOptOutRequest(
  context: OptOutRequestContext,
  input: { institution: string; patientId: string; birthDate: string },
): Promise<OptOutRequestView> {
  const institution = await findInstitution(context.db, input.institution)
  const patientId = normalizePatientId(input.patientId)
  // Checked without quoting it back: a birth date beside a patient ID is not for error messages.
  const birthDate = input.birthDate.normalize('NFKC').trim()
  if (!isCalendarDate(birthDate))
    throw new TokumeiError('The birth date must be a date as YYYY-MM-DD.', {
      code: 'optout.bad_birth_date',
      kind: 'invalid',
    })
  const receipt = newReceipt()
  return context.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('governance.optout_request')
      .values({
        receipt,
        institution_id: institution.id,
        patient_id_enc: context.keyring.encrypt('spool', patientId, sealContext(receipt, 'patient_id_enc')),
        birth_date_enc: context.keyring.encrypt('spool', birthDate, sealContext(receipt, 'birth_date_enc')),
      })
      .returning(['id', 'received_at'])
      .executeTakeFirstOrThrow()
    await enqueueJob(trx, { kind: 'optout.request', payload: { request: row.id } }, { maxAttempts: 5 })
    await recordAuditEvent(trx, context.keyring, {
      actor: context.actor,
      action: 'optout.requested',
      target: `optout_request:${row.id}`,
      detail: { institution: institution.code },
    })
    return {
      receipt,
      institution: institution.code,
      status: 'received' as const,
      receivedAt: row.received_at.toISOString(),
      doneAt: null,
    }
  })
}

/** A request by its receipt number as typed, or one not-found error. */
async function requestByReceipt(db: Db, rawReceipt: string) {
  const receipt = normalizeReceipt(rawReceipt)
  const row =
    receipt === undefined
      ? undefined
      : await db
          .selectFrom('governance.optout_request as r')
          .innerJoin('governance.institution as i', 'i.id', 'r.institution_id')
          .select(['r.id', 'r.receipt', 'i.code', 'r.status', 'r.received_at', 'r.done_at'])
          .where('r.receipt', '=', receipt)
          .executeTakeFirst()
  if (!row)
    throw new TokumeiError('There is no request with this receipt number: check it on your confirmation.', {
      code: 'optout.request_not_found',
      kind: 'not_found',
    })
  return row
}

export async function findOptOutRequest(db: Db, rawReceipt: string): Promise<OptOutRequestView> {
  const row = await requestByReceipt(db, rawReceipt)
  return {
    receipt: row.receipt,
    institution: row.code,
    status: row.status,
    receivedAt: row.received_at.toISOString(),
    doneAt: row.done_at?.toISOString() ?? null,
  }
}

/**
 * Core side (the `optout.request` job): opens the request and registers the refusal, unless the
 * institution sent this patient with another birth date — then someone may have typed another
 * person's ID, and the request waits for the institution to confirm the person (`unconfirmed`).
 * Once the institution has confirmed, an intake operator registers it (`confirmedBy`: their actor).
 */
export async function processOptOutRequest(
  context: CoreIntakeContext,
  id: number,
  options: { confirmedBy?: string } = {},
): Promise<{ status: OptOutRequestStatus; deletedRecords: number }> {
  const request = await context.db
    .selectFrom('governance.optout_request as r')
    .innerJoin('governance.institution as i', 'i.id', 'r.institution_id')
    .select([
      'r.id',
      'r.receipt',
      'r.status',
      'r.patient_id_enc',
      'r.birth_date_enc',
      'i.id as institution_id',
    ])
    .select('i.code')
    .where('r.id', '=', id)
    .executeTakeFirst()
  if (!request)
    throw new TokumeiError(`There is no opt-out request ${id}.`, {
      code: 'optout.request_not_found',
      kind: 'not_found',
    })
  // A request waits once: received for the job, or unconfirmed until the institution confirms the person.
  const open = options.confirmedBy ? request.status === 'unconfirmed' : request.status === 'received'
  if (!open) return { status: request.status, deletedRecords: 0 }
  const patientId = context.keyring.decryptText(
    'spool',
    request.patient_id_enc,
    sealContext(request.receipt, 'patient_id_enc'),
  )
  const birthDate = context.keyring.decryptText(
    'spool',
    request.birth_date_enc,
    sealContext(request.receipt, 'birth_date_enc'),
  )
  const held = await context.db
    .selectFrom('identity.patient as v')
    .leftJoin('clinical.patient as c', 'c.patient_ref', 'v.patient_ref')
    .select('c.birth_date')
    .where('v.institution_id', '=', request.institution_id)
    .where('v.local_hash', '=', localPatientHash(context.keyring, request.code, patientId))
    .executeTakeFirst()
  const finish = async (status: OptOutRequestStatus, optoutId: number | null) => {
    await context.db
      .updateTable('governance.optout_request')
      .set({ status, optout_id: optoutId, done_at: new Date() })
      .where('id', '=', id)
      .where('status', '=', request.status)
      .execute()
    await context.audit({
      action: `optout.request_${status}`,
      target: `optout_request:${id}`,
      detail: { institution: request.code, confirmed: options.confirmedBy !== undefined },
    })
  }
  if (!options.confirmedBy && held?.birth_date && held.birth_date !== birthDate) {
    await finish('unconfirmed', null)
    return { status: 'unconfirmed', deletedRecords: 0 }
  }
  const registered = await registerOptOut(context, {
    institutionCode: request.code,
    patientId,
    channel: 'portal',
    actor: `optout_request:${id}`,
  })
  await finish('registered', registered.id)
  return { status: 'registered', deletedRecords: registered.deletedRecords }
}

/**
 * The institution has confirmed the person of an `unconfirmed` request: registered now, with the
 * context's actor (the intake operator) as the one who did it.
 */
export async function confirmOptOutRequest(
  context: CoreIntakeContext,
  rawReceipt: string,
): Promise<{ status: OptOutRequestStatus; deletedRecords: number }> {
  const row = await requestByReceipt(context.db, rawReceipt)
  if (row.status !== 'unconfirmed')
    throw new TokumeiError(
      `Request ${row.receipt} is ${row.status}: only an unconfirmed request waits for confirmation.`,
      { code: 'optout.not_unconfirmed', kind: 'conflict' },
    )
  return processOptOutRequest(context, row.id, { confirmedBy: context.actor })
}
