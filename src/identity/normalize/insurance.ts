import { compactName, digitsOf } from './text.js'

/**
 * Health-insurance identifiers. A 保険者番号 has 8 digits whose last is a modulus-10 check digit over
 * the first 7 (weights 2, 1 from the right), or 6 digits for 国民健康保険; 記号・番号 are compared in
 * one form (half width, no spaces, hyphens or 「・」, upper case).
 */

/** The modulus-10 check digit (weights 2, 1 from the right), as 医療機関コード and 保険者番号 use. */
export function checkDigit(digits: string): string {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    const weight = (digits.length - i) % 2 === 1 ? 2 : 1
    const product = Number(digits[i]) * weight
    sum += Math.floor(product / 10) + (product % 10)
  }
  return String((10 - (sum % 10)) % 10)
}

export interface InsurerKey {
  readonly digits: string
  /** 8 digits with a right check digit, or 6 digits (no check digit to test). */
  readonly valid: boolean
}

export function insurerKey(raw: string): InsurerKey | undefined {
  const digits = digitsOf(raw)
  if (digits === '') return undefined
  const valid =
    digits.length === 6 || (digits.length === 8 && checkDigit(digits.slice(0, 7)) === digits.slice(7))
  return { digits, valid }
}

/** 記号 or 番号 in one form. */
export function insuredKey(raw: string): string | undefined {
  const key = compactName(raw)
    .replace(/[-‐―−ー－]/g, '')
    .toUpperCase()
  return key === '' ? undefined : key
}
