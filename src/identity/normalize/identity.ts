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
  const surnameKana = present(identity.surnameKana) ? kanaReading(identity.surnameKana) : ''
  const givenKana = present(identity.givenKana) ? kanaReading(identity.givenKana) : ''
  const address = present(identity.address) ? addressKey(identity.address) : undefined
  const addressLine = present(identity.address) ? compactName(identity.address).toUpperCase() : ''
  const phones = identity.phones.map(phoneKey).filter((p) => p !== undefined)
  const insurer = present(identity.insurerNumber) ? insurerKey(identity.insurerNumber) : undefined
  // One object literal with every key (undefined when absent): records of one shape keep the
  // millions of property reads of blocking and comparison fast.
  return {
    surname: writtenName(identity.surname, variants),
    given: writtenName(identity.given, variants),
    surnameKana: surnameKana || undefined,
    givenKana: givenKana || undefined,
    surnameKanaLoose: surnameKana ? looseKana(surnameKana) || undefined : undefined,
    givenKanaLoose: givenKana ? looseKana(givenKana) || undefined : undefined,
    // Latin from the reading, or from a name written in Latin letters.
    surnameLatin: latinOf(identity.surnameKana, identity.surname),
    givenLatin: latinOf(identity.givenKana, identity.given),
    birthDate: present(identity.birthDate) ? parseBirthDate(identity.birthDate) : undefined,
    sex: normalizeSex(identity.sex),
    postalCode: present(identity.postalCode) ? postalCodeOf(identity.postalCode) : undefined,
    prefecture: address?.prefecture,
    municipality: address?.municipality,
    addressLine: addressLine || undefined,
    phones: [...new Set(phones.map((p) => p.digits))],
    mobiles: [...new Set(phones.filter((p) => p.mobile).map((p) => p.digits))],
    insurerNumber: insurer?.digits,
    insurerValid: insurer?.valid,
    insuredSymbol: present(identity.insuredSymbol) ? insuredKey(identity.insuredSymbol) : undefined,
    insuredNumber: present(identity.insuredNumber) ? insuredKey(identity.insuredNumber) : undefined,
  }
}

/** Kanji (or Latin) name folded: NFKC, no spaces, 異体字 to their standard forms, upper case. */
function writtenName(raw: string | undefined, variants: VariantTable): string | undefined {
  if (!present(raw)) return undefined
  const folded = variants.fold(compactName(raw))
  return folded === '' ? undefined : folded.toUpperCase()
}

function latinOf(reading: string | undefined, written: string | undefined): string | undefined {
  const source = present(reading) ? reading : written
  if (!present(source)) return undefined
  return latinKey(source) || undefined
}

/** Japan's 7 digits; another country's code as its digits. */
function postalCodeOf(raw: string): string | undefined {
  const digits = digitsOf(raw)
  return postalKey(raw) ?? (/^\d{3,10}$/.test(digits) ? digits : undefined)
}
