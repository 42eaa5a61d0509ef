import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { TokumeiError } from '../model/index.js'
import { cumulative } from './random.js'

/**
 * Name and 異体字 tables. The rich lists are the public ones in `shared/data` (gimei's 500 surnames
 * and 13 000 given names with readings; the itaiji variant list), read at run time, never copied into
 * the repository. Without them a small built-in list keeps `synth` working, with fewer distinct names.
 */
export interface NameEntry {
  readonly kanji: string
  /** Full-width katakana reading. */
  readonly kana: string
  /** Hepburn romanization, when the list has one. */
  readonly romaji?: string
}

export interface NameTables {
  readonly surnames: readonly NameEntry[]
  readonly surnameWeights: Float64Array
  readonly male: readonly NameEntry[]
  readonly female: readonly NameEntry[]
  readonly givenWeightsMale: Float64Array
  readonly givenWeightsFemale: Float64Array
  /** Standard form → its variants (髙 for 高, 﨑 and 嵜 for 崎 …). */
  readonly variants: ReadonlyMap<string, readonly string[]>
  /** Where the tables came from, for the report. */
  readonly source: 'shared' | 'builtin'
}

// The most common surnames in Japan, in order (public surname statistics). They get the heaviest weights.
const TOP_SURNAMES = [
  '佐藤',
  '鈴木',
  '高橋',
  '田中',
  '伊藤',
  '渡辺',
  '山本',
  '中村',
  '小林',
  '加藤',
  '吉田',
  '山田',
  '佐々木',
  '山口',
  '松本',
  '井上',
  '木村',
  '林',
  '斎藤',
  '清水',
  '山崎',
  '森',
  '池田',
  '橋本',
  '阿部',
  '石川',
  '山下',
  '中島',
  '石井',
  '小川',
]

const BUILTIN_SURNAMES: NameEntry[] = [
  ['佐藤', 'サトウ'],
  ['鈴木', 'スズキ'],
  ['高橋', 'タカハシ'],
  ['田中', 'タナカ'],
  ['伊藤', 'イトウ'],
  ['渡辺', 'ワタナベ'],
  ['山本', 'ヤマモト'],
  ['中村', 'ナカムラ'],
  ['小林', 'コバヤシ'],
  ['加藤', 'カトウ'],
  ['吉田', 'ヨシダ'],
  ['山田', 'ヤマダ'],
  ['佐々木', 'ササキ'],
  ['山口', 'ヤマグチ'],
  ['松本', 'マツモト'],
  ['井上', 'イノウエ'],
  ['木村', 'キムラ'],
  ['林', 'ハヤシ'],
  ['斎藤', 'サイトウ'],
  ['清水', 'シミズ'],
  ['山崎', 'ヤマザキ'],
  ['長谷川', 'ハセガワ'],
  ['渡部', 'ワタナベ'],
  ['高田', 'タカダ'],
].map(([kanji, kana]) => ({ kanji: kanji as string, kana: kana as string }))

const BUILTIN_MALE: NameEntry[] = [
  ['太郎', 'タロウ'],
  ['一郎', 'イチロウ'],
  ['健一', 'ケンイチ'],
  ['大輔', 'ダイスケ'],
  ['翔太', 'ショウタ'],
  ['拓也', 'タクヤ'],
  ['浩二', 'コウジ'],
  ['茂', 'シゲル'],
  ['清', 'キヨシ'],
  ['勇', 'イサム'],
  ['隆', 'タカシ'],
  ['蓮', 'レン'],
  ['悠真', 'ユウマ'],
  ['修', 'オサム'],
  ['正雄', 'マサオ'],
  ['恭平', 'キョウヘイ'],
  ['俊介', 'シュンスケ'],
  ['亮', 'リョウ'],
].map(([kanji, kana]) => ({ kanji: kanji as string, kana: kana as string }))

const BUILTIN_FEMALE: NameEntry[] = [
  ['花子', 'ハナコ'],
  ['恭子', 'キョウコ'],
  ['洋子', 'ヨウコ'],
  ['幸子', 'サチコ'],
  ['陽菜', 'ヒナ'],
  ['美咲', 'ミサキ'],
  ['和子', 'カズコ'],
  ['節子', 'セツコ'],
  ['由美', 'ユミ'],
  ['直美', 'ナオミ'],
  ['結衣', 'ユイ'],
  ['京子', 'キョウコ'],
  ['智子', 'トモコ'],
  ['純子', 'ジュンコ'],
  ['さくら', 'サクラ'],
  ['優子', 'ユウコ'],
  ['千尋', 'チヒロ'],
  ['恵美', 'エミ'],
].map(([kanji, kana]) => ({ kanji: kanji as string, kana: kana as string }))

const BUILTIN_VARIANTS: Array<[string, string[]]> = [
  ['高', ['髙']],
  ['崎', ['﨑', '嵜']],
  ['辺', ['邊', '邉']],
  ['斎', ['齋', '齊']],
  ['沢', ['澤']],
  ['浜', ['濱']],
  ['島', ['嶋']],
  ['藤', ['籐']],
]

/** Zipf-like weights: the k-th entry weighs 1 / k^s. */
function zipf(count: number, s: number): number[] {
  return Array.from({ length: count }, (_, k) => 1 / (k + 1) ** s)
}

/**
 * The skew of surnames: with the public list's 500 surnames, 0.55 gives 佐藤 about 3 % of people and the
 * five commonest about 9 % (measured on 4 000 persons) — near Japan's public figures (佐藤 ≈ 1.5 %, the
 * top five ≈ 5.5 %) for a list that short. A steeper skew made common names far commoner than they are
 * (佐藤 10 %), and linkage blocks on names unrealistically large.
 */
const SURNAME_SKEW = 0.55
/** Given names are more varied still than surnames. */
const GIVEN_SKEW = 0.6

function surnameWeights(surnames: readonly NameEntry[]): Float64Array {
  const rank = new Map(TOP_SURNAMES.map((name, i) => [name, i]))
  // Known top names by their rank; the rest form a long tail behind them in list order.
  let tail = TOP_SURNAMES.length
  const weights = surnames.map((s) => {
    const k = rank.get(s.kanji) ?? tail++
    return 1 / (k + 1) ** SURNAME_SKEW
  })
  return cumulative(weights)
}

type GimeiRow = [string, string, string, string]

/** Loads the tables from `sharedDataDir` when it holds them, else the built-in lists. */
export function loadNameTables(sharedDataDir: string | undefined): NameTables {
  const namesFile = sharedDataDir
    ? join(sharedDataDir, 'names', 'willnet_gimei', 'lib', 'data', 'names.yml')
    : undefined
  const itaijiFile = sharedDataDir ? join(sharedDataDir, 'itaiji', 'itaiji_list.yml') : undefined
  if (!namesFile || !existsSync(namesFile)) {
    return {
      surnames: BUILTIN_SURNAMES,
      surnameWeights: surnameWeights(BUILTIN_SURNAMES),
      male: BUILTIN_MALE,
      female: BUILTIN_FEMALE,
      givenWeightsMale: cumulative(zipf(BUILTIN_MALE.length, 0.6)),
      givenWeightsFemale: cumulative(zipf(BUILTIN_FEMALE.length, 0.6)),
      variants: new Map(BUILTIN_VARIANTS),
      source: 'builtin',
    }
  }
  let names: { first_name: { male: GimeiRow[]; female: GimeiRow[] }; last_name: GimeiRow[] }
  try {
    names = parse(readFileSync(namesFile, 'utf8'))
  } catch (error) {
    throw new TokumeiError(
      `The name list ${namesFile} could not be read as YAML: restore it from shared/data.`,
      {
        code: 'synth.bad_names',
        kind: 'invalid',
        cause: error,
      },
    )
  }
  const entry = (row: GimeiRow): NameEntry => ({ kanji: row[0], kana: row[2], romaji: row[3] })
  const surnames = names.last_name.map(entry)
  const male = names.first_name.male.map(entry)
  const female = names.first_name.female.map(entry)
  const variants = new Map<string, readonly string[]>(BUILTIN_VARIANTS)
  if (itaijiFile && existsSync(itaijiFile)) {
    const table = parse(readFileSync(itaijiFile, 'utf8')) as Record<string, string[]>
    for (const [standard, forms] of Object.entries(table)) {
      if (Array.isArray(forms) && forms.length > 0) variants.set(standard, forms.map(String))
    }
  }
  // Given names: a fixed Zipf, so that some names are common and most are rare.
  return {
    surnames,
    surnameWeights: surnameWeights(surnames),
    male,
    female,
    givenWeightsMale: cumulative(zipf(male.length, GIVEN_SKEW)),
    givenWeightsFemale: cumulative(zipf(female.length, GIVEN_SKEW)),
    variants,
    source: 'shared',
  }
}

/** The shared data folder: TOKUMEI_SHARED_DATA, else `../shared/data` beside the repository. */
export function defaultSharedDataDir(env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (env.TOKUMEI_SHARED_DATA) return env.TOKUMEI_SHARED_DATA
  const beside = join(import.meta.dirname, '..', '..', '..', 'shared', 'data')
  return existsSync(beside) ? beside : undefined
}
