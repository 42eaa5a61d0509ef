// Identity normalization (名寄せ's first step): pure functions from a recorded identity to the keys
// that linkage compares. Nothing here writes, logs or keeps a value.
export {
  type AddressKey,
  addressKey,
  areaOf,
  type PhoneKey,
  PREFECTURES,
  phoneKey,
  postalKey,
} from './contact.js'
export { parseBirthDate } from './dates.js'
export { type NormalizedIdentity, normalizeIdentity, normalizeSex } from './identity.js'
export { checkDigit, type InsurerKey, insuredKey, insurerKey } from './insurance.js'
export { kanaReading, looseKana, toHiragana, toKatakana } from './kana.js'
export { hepburn, latinKey } from './romaji.js'
export { compactName, digitsOf, foldText } from './text.js'
export { VariantTable } from './variants.js'
