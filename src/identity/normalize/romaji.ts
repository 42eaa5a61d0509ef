import { kanaReading } from './kana.js'
import { foldText } from './text.js'

/**
 * Hepburn romanization of a katakana reading, and one Latin key for comparing a name written in
 * Latin letters (a foreign patient's, or a passport's) with a kana reading: lower case, letters only,
 * long vowels folded the way passports drop them (Satou, Satoh, Sato → sato).
 */
const DIGRAPHS: Readonly<Record<string, string>> = {
  キャ: 'kya',
  キュ: 'kyu',
  キョ: 'kyo',
  ギャ: 'gya',
  ギュ: 'gyu',
  ギョ: 'gyo',
  シャ: 'sha',
  シュ: 'shu',
  ショ: 'sho',
  シェ: 'she',
  ジャ: 'ja',
  ジュ: 'ju',
  ジョ: 'jo',
  ジェ: 'je',
  チャ: 'cha',
  チュ: 'chu',
  チョ: 'cho',
  チェ: 'che',
  ヂャ: 'ja',
  ヂュ: 'ju',
  ヂョ: 'jo',
  ニャ: 'nya',
  ニュ: 'nyu',
  ニョ: 'nyo',
  ヒャ: 'hya',
  ヒュ: 'hyu',
  ヒョ: 'hyo',
  ビャ: 'bya',
  ビュ: 'byu',
  ビョ: 'byo',
  ピャ: 'pya',
  ピュ: 'pyu',
  ピョ: 'pyo',
  ミャ: 'mya',
  ミュ: 'myu',
  ミョ: 'myo',
  リャ: 'rya',
  リュ: 'ryu',
  リョ: 'ryo',
  ティ: 'ti',
  ディ: 'di',
  トゥ: 'tu',
  ドゥ: 'du',
  ファ: 'fa',
  フィ: 'fi',
  フェ: 'fe',
  フォ: 'fo',
  ウィ: 'wi',
  ウェ: 'we',
  ウォ: 'wo',
  ヴァ: 'va',
  ヴィ: 'vi',
  ヴェ: 've',
  ヴォ: 'vo',
  ツァ: 'tsa',
}

const SINGLES: Readonly<Record<string, string>> = {
  ア: 'a',
  イ: 'i',
  ウ: 'u',
  エ: 'e',
  オ: 'o',
  カ: 'ka',
  キ: 'ki',
  ク: 'ku',
  ケ: 'ke',
  コ: 'ko',
  ガ: 'ga',
  ギ: 'gi',
  グ: 'gu',
  ゲ: 'ge',
  ゴ: 'go',
  サ: 'sa',
  シ: 'shi',
  ス: 'su',
  セ: 'se',
  ソ: 'so',
  ザ: 'za',
  ジ: 'ji',
  ズ: 'zu',
  ゼ: 'ze',
  ゾ: 'zo',
  タ: 'ta',
  チ: 'chi',
  ツ: 'tsu',
  テ: 'te',
  ト: 'to',
  ダ: 'da',
  ヂ: 'ji',
  ヅ: 'zu',
  デ: 'de',
  ド: 'do',
  ナ: 'na',
  ニ: 'ni',
  ヌ: 'nu',
  ネ: 'ne',
  ノ: 'no',
  ハ: 'ha',
  ヒ: 'hi',
  フ: 'fu',
  ヘ: 'he',
  ホ: 'ho',
  バ: 'ba',
  ビ: 'bi',
  ブ: 'bu',
  ベ: 'be',
  ボ: 'bo',
  パ: 'pa',
  ピ: 'pi',
  プ: 'pu',
  ペ: 'pe',
  ポ: 'po',
  マ: 'ma',
  ミ: 'mi',
  ム: 'mu',
  メ: 'me',
  モ: 'mo',
  ヤ: 'ya',
  ユ: 'yu',
  ヨ: 'yo',
  ラ: 'ra',
  リ: 'ri',
  ル: 'ru',
  レ: 're',
  ロ: 'ro',
  ワ: 'wa',
  ヰ: 'i',
  ヱ: 'e',
  ヲ: 'o',
  ン: 'n',
  ヴ: 'vu',
  ァ: 'a',
  ィ: 'i',
  ゥ: 'u',
  ェ: 'e',
  ォ: 'o',
  ャ: 'ya',
  ュ: 'yu',
  ョ: 'yo',
  ヮ: 'wa',
  ヵ: 'ka',
  ヶ: 'ke',
}

/** Modified Hepburn of a reading (any kana form); characters that are not kana are left out. */
export function hepburn(raw: string): string {
  const kana = [...kanaReading(raw)]
  let out = ''
  let geminate = false
  for (let i = 0; i < kana.length; i++) {
    const ch = kana[i] as string
    if (ch === 'ッ') {
      geminate = true
      continue
    }
    const pair = `${ch}${kana[i + 1] ?? ''}`
    let syllable = DIGRAPHS[pair]
    if (syllable) i++
    else if (ch === 'ー')
      syllable = out.at(-1) && /[aeiou]/.test(out.at(-1) as string) ? (out.at(-1) as string) : ''
    else syllable = SINGLES[ch] ?? ''
    if (geminate && syllable) {
      // っち → tchi; otherwise the consonant doubles.
      syllable = syllable.startsWith('ch') ? `t${syllable}` : `${syllable[0]}${syllable}`
      geminate = false
    }
    out += syllable
  }
  return out
}

/** The comparison key of a Latin or kana name: Hepburn for kana, then long vowels folded. */
export function latinKey(raw: string): string {
  const folded = foldText(raw).toLowerCase()
  const latin = /[a-z]/.test(folded) ? folded.replace(/[^a-z]/g, '') : hepburn(raw)
  return latin
    .replace(/(ou|oo|oh)(?![aeiou])/g, 'o')
    .replace(/uu/g, 'u')
    .replace(/ei(?![aeiou])/g, 'e')
}
