/**
 * Text folding for comparison: never applied to a stored value, only to the keys compared. Ideographic
 * variation selectors (IVS, U+E0100–E01EF) and standardized variation selectors (U+FE00–FE0F) are
 * dropped, then NFKC maps full-width Latin and digits to ASCII, half-width katakana to full width
 * (with voiced marks composed), and CJK compatibility ideographs to their unified forms (神 U+FA19 →
 * 神 U+795E); the twelve unified ideographs of that block (﨑 U+FA11 …) have no decomposition and
 * stay, for the variant table to fold.
 */
const VARIATION_SELECTORS = /[\uFE00-\uFE0F]|\uDB40[\uDD00-\uDDEF]/g
const SPACES = /[\s\u3000・･\u00B7.,，、]/gu

export function foldText(raw: string): string {
  return raw.replace(VARIATION_SELECTORS, '').normalize('NFKC')
}

/** Folded, without any space or separator: the form names are compared in. */
export function compactName(raw: string): string {
  return foldText(raw).replace(SPACES, '')
}

/** The digits of a value written with any width, spaces or hyphens; empty when there are none. */
export function digitsOf(raw: string): string {
  return foldText(raw).replace(/\D/g, '')
}
