import type { PatientIdentity, Sex } from '../../model/index.js'
import { addressKey, phoneKey, postalKey } from './contact.js'
import { parseBirthDate } from './dates.js'
import { insuredKey, insurerKey } from './insurance.js'
import { kanaReading, looseKana } from './kana.js'
import { latinKey } from './romaji.js'
import { compactName, digitsOf } from './text.js'
import type { VariantTable } from './variants.js'

/**
 * One patient's identity as comparison keys. Every field is derived; the vault keeps the identity as
 * it came. Absent or unusable values are absent here (a comparison of a missing value is neutral).
 */
export interface NormalizedIdentity {
  /** Kanji (or Latin) name, NFKC, without spaces, 異体字 folded. */
  readonly surname?: string
  readonly given?: string
  /** Readings: full-width katakana without spaces … */
  readonly surnameKana?: string
  readonly givenKana?: string
  /** … and the loose forms (small/large kana, ー, ヂ/ジ … folded). */
  readonly surnameKanaLoose?: string
  readonly givenKanaLoose?: string
  /** Hepburn of the readings (or the Latin name), long vowels folded: surname and given. */
  readonly surnameLatin?: string
  readonly givenLatin?: string
  readonly birthDate?: string
  readonly sex?: 'M' | 'F'
  readonly postalCode?: string
  readonly prefecture?: string
  readonly municipality?: string
  /** The whole address, folded, without spaces, upper case (for addresses outside Japan's pattern). */
  readonly addressLine?: string
  /** National digits of each phone. */
  readonly phones: readonly string[]
  readonly mobiles: readonly string[]
  readonly insurerNumber?: string
  readonly insurerValid?: boolean
  readonly insuredSymbol?: string
  readonly insuredNumber?: string
}

const present = (value: string | undefined): value is string => value !== undefined && value.trim() !== ''

/** M/F from the codes sources use (HL7 M/F, JP Core male/female, 1/2, 男/女); others unknown. */
export function normalizeSex(raw: Sex | string | undefined): 'M' | 'F' | undefined {
  if (raw === undefined) return undefined
  const value = compactName(String(raw)).toUpperCase()
  if (['M', 'MALE', '1', '男', '男性'].includes(value)) return 'M'
  if (['F', 'FEMALE', '2', '女', '女性'].includes(value)) return 'F'
  return undefined
}

export function normalizeIdentity(identity: PatientIdentity, variants: VariantTable): NormalizedIdentity {
  const out: Record<string, unknown> = {}
  const name = (raw: string | undefined) => {
    if (!present(raw)) return undefined
    const folded = variants.fold(compactName(raw))
    return folded === '' ? undefined : folded.toUpperCase()
  }
  out.surname = name(identity.surname)
  out.given = name(identity.given)
  for (const part of ['surname', 'given'] as const) {
    const raw = identity[`${part}Kana`]
    if (present(raw)) {
      const reading = kanaReading(raw)
      if (reading !== '') {
        out[`${part}Kana`] = reading
        out[`${part}KanaLoose`] = looseKana(reading)
      }
    }
    // Latin from the reading, or from a name written in Latin letters.
    const source = present(raw) ? raw : identity[part]
    if (present(source)) {
      const latin = latinKey(source)
      if (latin !== '') out[`${part}Latin`] = latin
    }
  }
  if (present(identity.birthDate)) out.birthDate = parseBirthDate(identity.birthDate)
  out.sex = normalizeSex(identity.sex)
  if (present(identity.postalCode)) {
    // Japan's 7 digits; another country's code as its digits.
    const digits = digitsOf(identity.postalCode)
    out.postalCode = postalKey(identity.postalCode) ?? (/^\d{3,10}$/.test(digits) ? digits : undefined)
  }
  if (present(identity.address)) {
    Object.assign(out, addressKey(identity.address))
    const line = compactName(identity.address).toUpperCase()
    if (line !== '') out.addressLine = line
  }
  const phones = identity.phones.map(phoneKey).filter((p) => p !== undefined)
  out.phones = [...new Set(phones.map((p) => p.digits))]
  out.mobiles = [...new Set(phones.filter((p) => p.mobile).map((p) => p.digits))]
  if (present(identity.insurerNumber)) {
    const insurer = insurerKey(identity.insurerNumber)
    if (insurer) {
      out.insurerNumber = insurer.digits
      out.insurerValid = insurer.valid
    }
  }
  if (present(identity.insuredSymbol)) out.insuredSymbol = insuredKey(identity.insuredSymbol)
  if (present(identity.insuredNumber)) out.insuredNumber = insuredKey(identity.insuredNumber)
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key]
  return out as unknown as NormalizedIdentity
}
