import Encoding from 'encoding-japanese'
import type { ClinicalItem, PatientIdentity, Sex, SourceRecord } from '../../model/index.js'
import { isoFromCompactDate, TokumeiError } from '../../model/index.js'
import { fromWarekiDigits } from '../wareki.js'

/**
 * Electronic claims (レセプト電算処理, `.UKE`, 医科): CP932, one record a line, comma-separated, no
 * quoting. A file is IR, then per receipt RE HO/KO/SN … SY SI IY TO CO SJ …, then GO. Each receipt
 * becomes one SourceRecord; a receipt with a bad line is reported as a problem (its line and field)
 * and left out, while the others proceed.
 */
export const UKE_RECORD_IDS = [
  'IR',
  'RE',
  'HO',
  'KO',
  'SN',
  'JD',
  'MF',
  'SY',
  'SI',
  'IY',
  'TO',
  'CO',
  'SJ',
  'GO',
] as const

export interface UkeHeader {
  /** 審査支払機関: 1 社会保険診療報酬支払基金, 2 国民健康保険団体連合会. */
  readonly payer: string
  readonly prefecture: string
  /** 10-digit 医療機関コード: prefecture ‖ 点数表 ‖ the 7-digit code. */
  readonly institutionCode: string
  readonly institutionName: string
  /** 請求年月 YYYY-MM. */
  readonly claimMonth: string
}

export interface UkeProblem {
  readonly line: number
  readonly field?: number
  readonly record?: string
  readonly reason: string
}

export interface UkeReceipt extends SourceRecord {
  /** Line of the RE record. */
  readonly line: number
  /** 診療年月 YYYY-MM. */
  readonly month: string
}

export interface UkeFile {
  readonly header: UkeHeader | undefined
  readonly receipts: readonly UkeReceipt[]
  readonly problems: readonly UkeProblem[]
  /** GO's receipt count and total points, for the caller to compare. */
  readonly trailer: { readonly receipts: number; readonly points: number } | undefined
}

export function decodeCp932(bytes: Uint8Array): string {
  return Encoding.codeToString(Encoding.convert(Array.from(bytes), { to: 'UNICODE', from: 'SJIS' }))
}

class LineError extends Error {
  constructor(
    readonly reason: string,
    readonly field?: number,
  ) {
    super(reason)
  }
}

/** An 8-digit 西暦 or 7-digit 和暦 date as ISO; throws a LineError naming the field otherwise. */
function date(value: string, field: number): string {
  const iso = isoFromCompactDate(value)
  if (iso) return iso
  const wareki = fromWarekiDigits(value)
  if (wareki) return wareki
  throw new LineError(`field ${field} is not a date (8-digit 西暦 or 7-digit 和暦)`, field)
}

/** A 6-digit 西暦 or 5-digit 和暦 month as YYYY-MM. */
function month(value: string, field: number): string {
  if (/^\d{6}$/.test(value)) return `${value.slice(0, 4)}-${value.slice(4, 6)}`
  if (/^\d{5}$/.test(value)) {
    const iso = fromWarekiDigits(`${value}01`)
    if (iso) return iso.slice(0, 7)
  }
  throw new LineError(`field ${field} is not a month (6-digit 西暦 or 5-digit 和暦)`, field)
}

function perDay(fields: readonly string[], first: number): Record<number, number> {
  const days: Record<number, number> = {}
  for (let d = 1; d <= 31; d++) {
    const v = fields[first + d - 1]
    if (v && /^\d+$/.test(v)) days[d] = Number(v)
  }
  return days
}

const numberOr = (text: string | undefined) =>
  text && Number.isFinite(Number(text)) ? Number(text) : undefined
const halfToFullKana = (text: string) => Encoding.toZenkanaCase(text)

interface Draft {
  line: number
  month: string
  identity: { -readonly [K in keyof PatientIdentity]: PatientIdentity[K] }
  items: ClinicalItem[]
  broken: UkeProblem | undefined
}

export function readUke(text: string): UkeFile {
  const lines = text.split(/\r\n|\n/)
  if (lines.at(-1) === '') lines.pop()
  const problems: UkeProblem[] = []
  const receipts: UkeReceipt[] = []
  let header: UkeHeader | undefined
  let trailer: UkeFile['trailer']
  let draft: Draft | undefined

  const finish = () => {
    if (!draft) return
    if (draft.broken) problems.push(draft.broken)
    else
      receipts.push({
        source: `line ${draft.line}`,
        line: draft.line,
        month: draft.month,
        identity: draft.identity,
        items: draft.items,
      })
    draft = undefined
  }

  lines.forEach((raw, index) => {
    const lineNo = index + 1
    // Some systems close the file with an EOF byte (0x1A).
    const f = (raw.endsWith('\u001a') ? raw.slice(0, -1) : raw).split(',')
    const id = f[0] ?? ''
    try {
      if (!(UKE_RECORD_IDS as readonly string[]).includes(id)) {
        // Name the id only when it looks like one: a broken line may start with a patient's name.
        throw new LineError(
          /^[A-Z]{2}$/.test(id) ? `unknown record id "${id}"` : 'the line does not start with a record id',
          1,
        )
      }
      switch (id) {
        case 'IR':
          if (lineNo !== 1) throw new LineError('IR must be the first record', 1)
          header = {
            payer: f[1] ?? '',
            prefecture: f[2] ?? '',
            institutionCode: `${f[2] ?? ''}${f[3] ?? ''}${f[4] ?? ''}`,
            institutionName: f[6] ?? '',
            claimMonth: month(f[7] ?? '', 8),
          }
          if (!/^\d{10}$/.test(header.institutionCode))
            throw new LineError('fields 3–5 do not make a 10-digit institution code', 5)
          return
        case 'RE': {
          finish()
          const [surname, ...given] = (f[4] ?? '').split(/[　 ]/)
          const kana = halfToFullKana(f[36] ?? '').split(/[　 ]/)
          const sex = f[5] === '1' ? 'M' : f[5] === '2' ? 'F' : undefined
          draft = {
            line: lineNo,
            month: month(f[3] ?? '', 4),
            identity: {
              localId: f[13] ?? '',
              surname: surname || undefined,
              given: given.join(' ') || undefined,
              surnameKana: kana[0] || undefined,
              givenKana: kana.slice(1).join(' ') || undefined,
              birthDate: date(f[6] ?? '', 7),
              sex: sex as Sex | undefined,
              phones: [],
            },
            items: [],
            broken: undefined,
          }
          for (const key of Object.keys(draft.identity) as Array<keyof PatientIdentity>) {
            if (draft.identity[key] === undefined) delete draft.identity[key]
          }
          return
        }
        case 'GO':
          finish()
          trailer = { receipts: Number(f[1]), points: Number(f[2]) }
          return
      }
      if (!draft) throw new LineError(`${id} before any RE record`, 1)
      switch (id) {
        case 'HO':
          draft.identity.insurerNumber = f[1]?.trim() || undefined
          draft.identity.insuredSymbol = f[2] || undefined
          draft.identity.insuredNumber = f[3] || undefined
          break
        case 'SY':
          draft.items.push({
            kind: 'condition',
            name: f[5] ?? '',
            receiptCode: f[1] ?? '',
            ...(f[4] ? { modifiers: f[4] } : {}),
            onset: date(f[2] ?? '', 3),
            main: f[6] === '01',
          })
          break
        case 'SI':
        case 'TO':
          draft.items.push({
            kind: 'procedure',
            code: f[3] ?? '',
            category: f[1] || undefined,
            points: numberOr(f[5]),
            count: numberOr(f[6]) ?? 1,
            month: draft.month,
            perDay: perDay(f, id === 'SI' ? 13 : 17),
          })
          break
        case 'IY':
          draft.items.push({
            kind: 'medication',
            name: '',
            receiptCode: f[3] ?? '',
            dose: numberOr(f[4]),
            days: numberOr(f[6]),
            administered: false,
            injection: f[1] === '33' || f[1] === '31' || f[1] === '32',
            perDay: perDay(f, 13),
          })
          break
        default:
          break
      }
    } catch (error) {
      if (!(error instanceof LineError)) throw error
      const problem = {
        line: lineNo,
        field: error.field,
        record: /^[A-Z]{2}$/.test(id) ? id : undefined,
        reason: error.reason,
      }
      if (id === 'RE') {
        // The receipt's own lines follow: keep them with it, so that one problem stands for the receipt.
        draft = { line: lineNo, month: '', identity: { localId: '', phones: [] }, items: [], broken: problem }
      } else if (draft) draft.broken ??= problem
      else problems.push(problem)
    }
  })
  finish()
  if (!header) problems.unshift({ line: 1, reason: 'the file does not start with an IR record' })
  if (!trailer) problems.push({ line: lines.length, reason: 'the file does not end with a GO record' })
  return { header, receipts, problems, trailer }
}

/** Reads a `.UKE` file's bytes (CP932). */
export function readUkeBytes(bytes: Uint8Array): UkeFile {
  if (bytes.length === 0)
    throw new TokumeiError('The claims file is empty.', { code: 'uke.empty', kind: 'invalid' })
  return readUke(decodeCp932(bytes))
}
