import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { exists, SHARED_DATA } from '../../../test/support/files.js'
import { toWarekiDigits, toWarekiText } from '../../formats/wareki.js'
import {
  addressKey,
  checkDigit,
  hepburn,
  insuredKey,
  insurerKey,
  kanaReading,
  latinKey,
  looseKana,
  normalizeIdentity,
  normalizeSex,
  parseBirthDate,
  phoneKey,
  postalKey,
  toHiragana,
  toKatakana,
  VariantTable,
} from './index.js'

const LIST = SHARED_DATA ? join(SHARED_DATA, 'itaiji', 'itaiji_list.yml') : undefined
const HAS_LIST = LIST !== undefined && exists(LIST)

const hiragana = fc.string({
  unit: fc.integer({ min: 0x3041, max: 0x3096 }).map((c) => String.fromCodePoint(c)),
})
/** Full-width katakana and its half-width spelling (voiced marks as separate characters). */
const KANA_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['ア', 'ｱ'],
  ['カ', 'ｶ'],
  ['ガ', 'ｶﾞ'],
  ['シ', 'ｼ'],
  ['ジ', 'ｼﾞ'],
  ['タ', 'ﾀ'],
  ['ッ', 'ｯ'],
  ['ハ', 'ﾊ'],
  ['バ', 'ﾊﾞ'],
  ['パ', 'ﾊﾟ'],
  ['ャ', 'ｬ'],
  ['ョ', 'ｮ'],
  ['ン', 'ﾝ'],
  ['ー', 'ｰ'],
  ['ヴ', 'ｳﾞ'],
  ['ヲ', 'ｦ'],
  ['ト', 'ﾄ'],
  ['ウ', 'ｳ'],
]
const isoDate = fc
  .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2025-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10))

describe('kana', () => {
  it('hiragana and katakana convert both ways without loss', () => {
    fc.assert(
      fc.property(hiragana, (h) => {
        expect(toHiragana(toKatakana(h))).toBe(h)
        expect(kanaReading(h)).toBe(toKatakana(h))
      }),
    )
  })

  it('a half-width reading is the same reading as its full-width spelling, spaces aside', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...KANA_PAIRS), { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        (pairs, space) => {
          const full = pairs.map(([f]) => f).join('')
          const half = pairs.map(([, h]) => h).join(space ? ' ' : '')
          expect(kanaReading(half)).toBe(full)
          expect(kanaReading(`${full.slice(0, 1)}\u3000${full.slice(1)}`)).toBe(full)
        },
      ),
    )
  })

  it('the loose form folds small kana, the long mark and old kana, and is idempotent', () => {
    expect(looseKana('キョウコ')).toBe(looseKana('キヨウコ'))
    expect(looseKana('ユウコ')).toBe(looseKana('ユーコ'.replace('ー', 'ウ')))
    expect(looseKana('サトー')).toBe('サト')
    expect(looseKana('ヂロウ')).toBe(looseKana('ジロウ'))
    expect(looseKana('キョウコ')).not.toBe(looseKana('キョウカ'))
    fc.assert(
      fc.property(hiragana, (h) => {
        const loose = looseKana(toKatakana(h))
        expect(looseKana(loose)).toBe(loose)
      }),
    )
  })
})

describe('異体字', () => {
  const builtin = VariantTable.builtin()

  it('folds the variants names carry, and leaves other text alone', () => {
    expect(builtin.fold('髙橋')).toBe('高橋')
    expect(builtin.fold('山﨑')).toBe('山崎')
    expect(builtin.fold('渡邊')).toBe('渡辺')
    expect(builtin.fold('渡邉')).toBe(builtin.fold('渡辺'))
    expect(builtin.fold('齋藤')).toBe('斎藤')
    // A compatibility ideograph (U+FA19) and an ideographic variation sequence fold too.
    expect(builtin.fold('\uFA19田')).toBe('神田')
    expect(builtin.fold('葛\u{E0100}飾')).toBe('葛飾')
    expect(builtin.fold('田中')).toBe('田中')
  })

  it.runIf(HAS_LIST)(
    'from the public list: every variant folds to its standard, and folding is idempotent',
    () => {
      const table = VariantTable.load(LIST)
      expect(table.source).toBe('list')
      expect(table.size).toBeGreaterThan(1000)
      expect(table.fold('亞')).toBe('亜')
      const chars = fc.constantFrom(...'亞惡蘆鰺壓圍爲醫髙﨑邊邉齋澤濱嶋櫻廣國龍德瀨田中山川佐藤鈴木あア')
      fc.assert(
        fc.property(
          fc.array(chars, { maxLength: 8 }).map((a) => a.join('')),
          (text) => {
            const once = table.fold(text)
            expect(table.fold(once)).toBe(once)
            expect([...once].length).toBe([...text].length)
          },
        ),
      )
    },
  )

  it.runIf(HAS_LIST)('the list and the additions agree on a name whichever variant each side wrote', () => {
    const table = VariantTable.load(LIST)
    for (const [a, b] of [
      ['髙橋', '高橋'],
      ['渡邊', '渡邉'],
      ['山嵜', '山崎'],
      ['濱田', '浜田'],
      ['櫻井', '桜井'],
    ] as const)
      expect(table.fold(a), `${a} ~ ${b}`).toBe(table.fold(b))
  })
})

describe('romanization', () => {
  it('writes modified Hepburn', () => {
    expect(hepburn('サトウ')).toBe('satou')
    expect(hepburn('しんいち')).toBe('shinichi')
    expect(hepburn('ハットリ')).toBe('hattori')
    expect(hepburn('マッチ')).toBe('matchi')
    expect(hepburn('キョウコ')).toBe('kyouko')
    expect(hepburn('ジュンイチロウ')).toBe('junichirou')
    expect(hepburn('ﾂﾁﾔ')).toBe('tsuchiya')
  })

  it('gives one key to a reading and the passport spelling of it', () => {
    expect(latinKey('サトウ')).toBe(latinKey('SATO'))
    expect(latinKey('オオノ')).toBe(latinKey('Ono'))
    expect(latinKey('サトウ')).toBe(latinKey('Satoh'))
    expect(latinKey('ＳＭＩＴＨ Ｊｏｈｎ')).toBe(latinKey('smith john'))
    expect(latinKey('タナカ')).not.toBe(latinKey('Tanabe'))
  })
})

describe('birth dates', () => {
  it('reads ISO, digits, slashes, 西暦 text and 和暦 in every spelling to the same date', () => {
    fc.assert(
      fc.property(isoDate, (iso) => {
        const [y, m, d] = iso.split('-') as [string, string, string]
        expect(parseBirthDate(iso)).toBe(iso)
        expect(parseBirthDate(`${y}${m}${d}`)).toBe(iso)
        expect(parseBirthDate(`${y}/${Number(m)}/${Number(d)}`)).toBe(iso)
        expect(parseBirthDate(`${y}年${Number(m)}月${Number(d)}日`)).toBe(iso)
        expect(parseBirthDate(toWarekiText(iso))).toBe(iso)
        expect(parseBirthDate(toWarekiDigits(iso))).toBe(iso)
        const full = `${y}－${m}－${d}`.replace(/\d/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))
        expect(parseBirthDate(full)).toBe(iso)
      }),
    )
  })

  it('reads era letters, 元年, and refuses impossible dates', () => {
    expect(parseBirthDate('S40.4.15')).toBe('1965-04-15')
    expect(parseBirthDate('Ｈ元/1/8')).toBe('1989-01-08')
    expect(parseBirthDate('令和元年5月1日')).toBe('2019-05-01')
    expect(parseBirthDate('平成31年4月30日')).toBe('2019-04-30')
    // 平成31年5月1日 is 令和元年: not a 平成 date.
    expect(parseBirthDate('平成31年5月1日')).toBeUndefined()
    expect(parseBirthDate('1965-02-30')).toBeUndefined()
    expect(parseBirthDate('昭和')).toBeUndefined()
    expect(parseBirthDate('')).toBeUndefined()
  })
})

describe('contact and insurance keys', () => {
  it('reads phones in any width and with +81', () => {
    expect(phoneKey('090-1234-5678')).toEqual({ digits: '09012345678', mobile: true })
    expect(phoneKey('０９０（１２３４）５６７８')).toEqual({ digits: '09012345678', mobile: true })
    expect(phoneKey('+81 90 1234 5678')).toEqual({ digits: '09012345678', mobile: true })
    expect(phoneKey('03-1234-5678')).toEqual({ digits: '0312345678', mobile: false })
    expect(phoneKey('1234')).toBeUndefined()
    expect(postalKey('〒１００-０００１')).toBe('1000001')
    expect(postalKey('100')).toBeUndefined()
  })

  it('finds the prefecture code and the municipality in an address', () => {
    expect(addressKey('東京都千代田区千代田１－１')).toEqual({ prefecture: '13', municipality: '千代田区' })
    expect(addressKey('北海道札幌市中央区北一条西２－１')).toEqual({
      prefecture: '01',
      municipality: '札幌市中央区',
    })
    expect(addressKey('埼玉県さいたま市大宮区桜木町１')).toEqual({
      prefecture: '11',
      municipality: 'さいたま市大宮区',
    })
    expect(addressKey('長野県北佐久郡軽井沢町大字軽井沢')).toEqual({
      prefecture: '20',
      municipality: '北佐久郡軽井沢町',
    })
    expect(addressKey('大阪 大阪市北区')).toEqual({ prefecture: '27', municipality: '大阪市北区' })
    expect(addressKey('')).toEqual({})
  })

  it('checks insurer numbers by their check digit, whatever the width', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{7}$/), fc.integer({ min: 1, max: 9 }), (body, delta) => {
        const right = `${body}${checkDigit(body)}`
        expect(insurerKey(right)).toEqual({ digits: right, valid: true })
        const wrong = `${body}${(Number(checkDigit(body)) + delta) % 10}`
        expect(insurerKey(wrong)?.valid).toBe(false)
        const fullWidth = right.replace(/\d/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))
        expect(insurerKey(fullWidth)).toEqual({ digits: right, valid: true })
      }),
    )
    expect(insurerKey('138001')).toEqual({ digits: '138001', valid: true })
    expect(insuredKey('１２－３４ ・５')).toBe('12345')
    expect(insuredKey('ａｂ１')).toBe('AB1')
  })
})

describe('one identity', () => {
  const table = VariantTable.builtin()
  const base = {
    localId: '0001',
    surname: '髙橋',
    given: '恭子',
    surnameKana: 'タカハシ',
    givenKana: 'キョウコ',
    birthDate: '1965-04-15',
    sex: 'F' as const,
    postalCode: '100-0001',
    address: '東京都千代田区千代田１－１',
    phones: ['090-1234-5678', '03-1234-5678'],
    insurerNumber: '01130012',
    insuredSymbol: '１２３',
    insuredNumber: '４５６',
  }

  it('makes every key, and the same keys from another hospital’s spelling', () => {
    const a = normalizeIdentity(base, table)
    expect(a).toEqual({
      surname: '高橋',
      given: '恭子',
      surnameKana: 'タカハシ',
      givenKana: 'キョウコ',
      surnameKanaLoose: 'タカハシ',
      givenKanaLoose: 'キヨウコ',
      surnameLatin: 'takahashi',
      givenLatin: 'kyoko',
      birthDate: '1965-04-15',
      sex: 'F',
      postalCode: '1000001',
      prefecture: '13',
      municipality: '千代田区',
      addressLine: '東京都千代田区千代田1-1',
      phones: ['09012345678', '0312345678'],
      mobiles: ['09012345678'],
      insurerNumber: '01130012',
      insurerValid: checkDigit('0113001') === '2',
      insuredSymbol: '123',
      insuredNumber: '456',
    })
    const b = normalizeIdentity(
      {
        ...base,
        surname: '高 橋',
        surnameKana: 'ﾀｶﾊｼ',
        givenKana: 'きょうこ',
        phones: ['０９０ １２３４ ５６７８'],
        insuredSymbol: '123',
      },
      table,
    )
    for (const key of ['surname', 'surnameKana', 'givenKana', 'surnameLatin', 'insuredSymbol'] as const)
      expect(b[key], key).toBe(a[key])
    expect(b.phones).toEqual(['09012345678'])
  })

  it('never throws on any text, and leaves out what it cannot read', () => {
    fc.assert(
      fc.property(
        fc.record({
          surname: fc.string(),
          given: fc.string(),
          surnameKana: fc.string(),
          givenKana: fc.string(),
          birthDate: fc.string(),
          postalCode: fc.string(),
          address: fc.string(),
          insurerNumber: fc.string(),
          insuredSymbol: fc.string(),
          insuredNumber: fc.string(),
          phones: fc.array(fc.string(), { maxLength: 3 }),
        }),
        (fields) => {
          const n = normalizeIdentity({ localId: 'x', ...fields }, table)
          for (const value of Object.values(n)) expect(value).not.toBe('')
          if (n.birthDate !== undefined) expect(n.birthDate).toMatch(/^\d{4}-\d{2}-\d{2}$/)
        },
      ),
    )
    expect(normalizeSex('男')).toBe('M')
    expect(normalizeSex('female')).toBe('F')
    expect(normalizeSex('U')).toBeUndefined()
  })
})
