import { PREFECTURES } from '../../model/index.js'
import { compactName, digitsOf } from './text.js'

export { PREFECTURES }

/**
 * Phones, postal codes and addresses as comparison keys. A phone is its national digits (+81 and
 * 81-prefixed numbers back to the leading 0); a postal code its 7 digits; an address gives the JIS
 * prefecture code (01–47, from its first words) and the municipality as written (市区町村, with 郡 and
 * a city's 区), folded.
 */

export interface PhoneKey {
  /** National digits, starting with 0 (10 or 11 digits for valid numbers). */
  readonly digits: string
  /** 070/080/090 (and 020/060) numbers belong to a person, not a household. */
  readonly mobile: boolean
}

export function phoneKey(raw: string): PhoneKey | undefined {
  let digits = digitsOf(raw)
  if (digits.startsWith('81') && (digits.length === 11 || digits.length === 12))
    digits = `0${digits.slice(2)}`
  if (!/^0\d{9,10}$/.test(digits)) return undefined
  return { digits, mobile: /^0[2-9]0\d{8}$/.test(digits) && digits.length === 11 }
}

export function postalKey(raw: string): string | undefined {
  const digits = digitsOf(raw)
  return /^\d{7}$/.test(digits) ? digits : undefined
}

export interface AddressKey {
  /** JIS X 0401 code, 01–47. */
  readonly prefecture?: string
  /** 札幌市中央区, さいたま市大宮区, 千代田区, 〇〇郡〇〇町 … as written, folded. */
  readonly municipality?: string
}

/** Prefecture names without 都/府/県 (北海道 stays whole), as addresses often write them. */
const SHORT_PREFECTURES = PREFECTURES.map((p) => p.replace(/[都府県]$/, ''))

export function addressKey(raw: string): AddressKey {
  let text = compactName(raw).replace(/^〒?\d{3}-?\d{4}/, '')
  let prefecture: string | undefined
  const index = PREFECTURES.findIndex(
    (p, i) => text.startsWith(p) || text.startsWith(SHORT_PREFECTURES[i] as string),
  )
  if (index >= 0) {
    const name = PREFECTURES[index] as string
    prefecture = String(index + 1).padStart(2, '0')
    text = text.slice(text.startsWith(name) ? name.length : (SHORT_PREFECTURES[index] as string).length)
  }
  const municipality =
    /^(.+?郡.+?[町村])/.exec(text)?.[1] ??
    /^(.+?市.+?区)/.exec(text)?.[1] ??
    /^(.+?[市区町村])/.exec(text)?.[1]
  return { ...(prefecture ? { prefecture } : {}), ...(municipality ? { municipality } : {}) }
}

/**
 * The area the clinical store may keep of an address: its prefecture code and municipality, never
 * the street or number after them. Nothing when the prefecture cannot be told.
 */
export function areaOf(address: string | undefined): { prefecture?: string; municipality?: string } {
  if (!address) return {}
  const key = addressKey(address)
  return key.prefecture ? key : {}
}
