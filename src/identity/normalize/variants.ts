import { existsSync, readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { TokumeiError } from '../../model/index.js'
import { foldText } from './text.js'

/**
 * 異体字 folding: each variant kanji to its standard form (髙→高, 﨑→崎, 邊/邉→辺, 齋→斎), from the
 * public itaiji list (`shared/data/itaiji/itaiji_list.yml`, MIT; read at run time, not copied) and
 * the additions below. A chain (a variant that is itself the standard of others) is followed to its
 * end. The raw value is never replaced: folding makes a comparison key.
 */
export class VariantTable {
  readonly #standard: Map<string, string>
  /** Where the entries came from, for reports. */
  readonly source: 'list' | 'builtin'

  private constructor(standard: Map<string, string>, source: 'list' | 'builtin') {
    this.#standard = standard
    this.source = source
  }

  /** Variants folded. */
  get size(): number {
    return this.#standard.size
  }

  /** The standard form of one character (itself when it has none). */
  standardOf(ch: string): string {
    return this.#standard.get(ch) ?? ch
  }

  /** The text with every variant replaced by its standard form (after NFKC: see `foldText`). */
  fold(text: string): string {
    let out = ''
    for (const ch of foldText(text)) out += this.#standard.get(ch) ?? ch
    return out
  }

  /** The built-in additions alone (tests, and a machine without the list). */
  static builtin(): VariantTable {
    return new VariantTable(resolve(ADDITIONS), 'builtin')
  }

  /** The list at `file` with the additions; the additions alone when `file` is undefined or missing. */
  static load(file: string | undefined): VariantTable {
    if (!file || !existsSync(file)) return VariantTable.builtin()
    let table: unknown
    try {
      table = parse(readFileSync(file, 'utf8'))
    } catch (error) {
      throw new TokumeiError(`The 異体字 list ${file} could not be read as YAML: restore it.`, {
        code: 'identity.bad_variant_list',
        kind: 'invalid',
        cause: error,
      })
    }
    if (table === null || typeof table !== 'object' || Array.isArray(table))
      throw new TokumeiError(`The 異体字 list ${file} is not a map of standard forms to their variants.`, {
        code: 'identity.bad_variant_list',
        kind: 'invalid',
      })
    const pairs: Array<[string, readonly string[]]> = []
    for (const [standard, forms] of Object.entries(table as Record<string, unknown>))
      if (Array.isArray(forms)) pairs.push([standard, forms.map(String)])
    return new VariantTable(resolve([...pairs, ...ADDITIONS]), 'list')
  }
}

/**
 * Pairs that names are often written with and that must fold even without the list: each is a
 * standard/variant pair of the Ministry of Justice's 戸籍統一文字 set (e.g. 髙 is registered as a
 * variant of 高). Where the list has the pair already, the list's entry comes first.
 */
const ADDITIONS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['高', ['髙']],
  ['崎', ['﨑', '嵜', '碕']],
  ['辺', ['邊', '邉']],
  ['斎', ['齋']],
  ['斉', ['齊']],
  ['沢', ['澤']],
  ['浜', ['濱', '濵']],
  ['島', ['嶋', '嶌']],
  ['桜', ['櫻']],
  ['広', ['廣']],
  ['国', ['國']],
  ['竜', ['龍']],
  ['徳', ['德']],
  ['吉', ['𠮷']],
  ['瀬', ['瀨']],
  ['槙', ['槇']],
  ['恵', ['惠']],
  ['礼', ['禮']],
]

function resolve(pairs: ReadonlyArray<readonly [string, readonly string[]]>): Map<string, string> {
  const direct = new Map<string, string>()
  for (const [standard, forms] of pairs) {
    const s = foldText(standard)
    for (const form of forms) {
      // NFKC may already have folded a compatibility form onto its standard.
      const f = foldText(form)
      if (f !== s && !direct.has(f)) direct.set(f, s)
    }
  }
  const resolved = new Map<string, string>()
  for (const variant of direct.keys()) {
    let target = direct.get(variant) as string
    const seen = new Set([variant])
    while (direct.has(target) && !seen.has(target)) {
      seen.add(target)
      target = direct.get(target) as string
    }
    if (target !== variant) resolved.set(variant, target)
  }
  return resolved
}
