import { toWarekiText } from '../formats/wareki.js'
import { checkDigit } from '../identity/normalize/insurance.js'
import type { NameEntry, NameTables } from './names.js'
import { cumulative, Random } from './random.js'
import {
  ADVERSE_EVENTS,
  DEPARTMENTS,
  DISEASES,
  type Disease,
  DRUGS,
  type Drug,
  HOSPITAL_NAME_PARTS,
  LAB_TESTS,
  type LabTest,
  MUNICIPALITIES,
  type Municipality,
} from './reference.js'

/**
 * The synthetic population: hospitals, and persons with the truth about them (who they are, what
 * they have) and what each hospital recorded of them (with the variations real records show).
 * Pure and deterministic: person i depends only on (seed, i) and the hospital list.
 */

export const WINDOW_START = '2018-04-01'
export const WINDOW_END = '2024-03-31'
const REFERENCE_DATE = '2024-04-01'

export interface Hospital {
  readonly index: number
  /** 10-digit 医療機関コード: prefecture (2) ‖ 点数表 1 (医科) ‖ 7-digit code with its check digit. */
  readonly code: string
  readonly name: string
  readonly municipality: Municipality
  readonly address: string
  readonly phone: string
  /** Digits of this hospital's patient IDs. */
  readonly idLength: number
  /** Writes kana names in half-width katakana (older systems do). */
  readonly halfWidthKana: boolean
  readonly noticeStart: string
  readonly departments: ReadonlyArray<{ code: string; name: string }>
}

export interface RecordedIdentity {
  readonly surname: string
  readonly given: string
  readonly surnameKana: string
  readonly givenKana: string
  readonly birthDate: string
  readonly sex: 'M' | 'F'
  readonly postal: string
  readonly address: string
  readonly municipalityCode: string
  readonly phone: string
  readonly insurerNumber: string
  readonly insuredSymbol: string
  readonly insuredNumber: string
}

export interface ClinicalEvent {
  readonly kind: 'outpatient' | 'admission'
  readonly date: string
  readonly endDate?: string
  readonly department: { code: string; name: string }
  readonly physician: NameEntry
  readonly diagnoses: readonly Diagnosis[]
  readonly prescriptions: readonly Prescription[]
  readonly labs: readonly LabResult[]
  readonly imaging?: 'CT' | 'MR' | 'CR'
}

export interface Diagnosis {
  readonly code: string
  readonly name: string
  readonly icd10: string
  readonly receiptCode: string
  readonly medisCode: string
  readonly onset: string
  readonly main: boolean
}

export interface Prescription {
  readonly drug: Drug
  readonly days: number
}

export interface LabResult {
  readonly test: LabTest
  readonly value: number
}

export interface PersonAtHospital {
  readonly hospital: Hospital
  readonly localId: string
  readonly identity: RecordedIdentity
  readonly events: readonly ClinicalEvent[]
  readonly allergy: string | undefined
}

export interface Person {
  readonly index: number
  readonly id: string
  readonly sex: 'M' | 'F'
  readonly birthDate: string
  readonly relative: { readonly relation: string; readonly name: string; readonly kana: string }
  /** Romanized name (as modalities write it), when the name list has it. */
  readonly romaji: { readonly surname: string; readonly given: string } | undefined
  readonly visits: readonly PersonAtHospital[]
  readonly adverseEvents: ReadonlyArray<{
    drug: string
    icd10: string
    start: string
    onset: string
    intervalDays: number
    institution: string
  }>
  /** Set when this person refused provision (提供停止) at an institution. */
  readonly optOut: { readonly institution: string; readonly on: string } | undefined
}

// Share of patients by 5-year age band (0–4 … 95+): the census pyramid weighted by how often each age
// sees a doctor, so that the old dominate as they do in hospital records.
const AGE_BAND_WEIGHTS = [4, 3, 2.5, 2.5, 3, 3.3, 3.6, 4.2, 4.8, 5.8, 6, 6.4, 7, 8.5, 10, 9, 8, 6, 3.5, 1.5]
const AGE_BANDS = cumulative(AGE_BAND_WEIGHTS)
const MUNICIPALITY_WEIGHTS = cumulative(MUNICIPALITIES.map((m) => m.weight))
const AREA_CODES: Record<string, string> = {
  '13': '03',
  '27': '06',
  '23': '052',
  '01': '011',
  '40': '092',
  '14': '045',
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const addDays = (iso: string, days: number): string =>
  new Date(Date.parse(`${iso}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10)
const daysBetween = (a: string, b: string): number => Math.round((Date.parse(b) - Date.parse(a)) / 86_400_000)
const fullWidthDigits = (text: string): string =>
  text.replace(/[0-9]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))

// Which department treats a disease, by ICD-10 chapter (内科 when the hospital lacks the specialty).
const DEPARTMENT_BY_ICD: ReadonlyArray<[RegExp, string]> = [
  [/^I6/, '10'],
  [/^I/, '02'],
  [/^K/, '03'],
  [/^J/, '12'],
  [/^[MS]/, '05'],
  [/^H/, '07'],
  [/^(F|G47)/, '09'],
]

function departmentFor(hospital: Hospital, icd10: string): { code: string; name: string } {
  const code = DEPARTMENT_BY_ICD.find(([pattern]) => pattern.test(icd10))?.[1] ?? '01'
  return (
    hospital.departments.find((d) => d.code === code) ??
    (hospital.departments.find((d) => d.code === '01') as { code: string; name: string })
  )
}

export function makeHospitals(seed: string, count: number): Hospital[] {
  const used = new Set<string>()
  return Array.from({ length: count }, (_, index) => {
    const rng = new Random(seed, 'hospital', index)
    const municipality = MUNICIPALITIES[rng.weightedIndex(MUNICIPALITY_WEIGHTS)] as Municipality
    let code: string
    do {
      const body = `${rng.digits(2)}${rng.digits(4)}`
      code = `${municipality.code.slice(0, 2)}1${body}${checkDigit(body)}`
    } while (used.has(code))
    used.add(code)
    const name = `${rng.pick(HOSPITAL_NAME_PARTS.prefix)}${municipality.city.replace(/^.*市|区$/g, '').slice(0, 2)}${rng.pick(HOSPITAL_NAME_PARTS.suffix)}`
    const area = AREA_CODES[municipality.code.slice(0, 2)] ?? `0${rng.int(11, 99)}`
    return {
      index,
      code,
      name,
      municipality,
      address: `${municipality.prefecture}${municipality.city}${municipality.town}${fullWidthDigits(`${rng.int(1, 5)}-${rng.int(1, 20)}-${rng.int(1, 30)}`)}`,
      phone: `${area}-${rng.digits(6 - area.length)}-${rng.digits(4)}`,
      idLength: rng.pick([8, 9, 10]),
      halfWidthKana: rng.chance(0.3),
      noticeStart: addDays('2018-01-01', rng.int(0, 80)),
      // Every hospital has internal medicine (内科); the other departments vary.
      departments: [
        DEPARTMENTS[0] as { code: string; name: string },
        ...rng.sample(DEPARTMENTS.slice(1), rng.int(3, DEPARTMENTS.length - 1)),
      ].sort((a, b) => a.code.localeCompare(b.code)),
    }
  })
}

interface Population {
  readonly seed: string
  readonly names: NameTables
  readonly hospitals: readonly Hospital[]
  /** Hospitals of each prefecture, so that people mostly go to hospitals near home. */
  readonly nextLocalId: number[]
}

export function createPopulation(
  seed: string,
  names: NameTables,
  hospitals: readonly Hospital[],
): Population {
  return { seed, names, hospitals, nextLocalId: hospitals.map(() => 0) }
}

function drawName(rng: Random, names: NameTables, sex: 'M' | 'F'): { surname: NameEntry; given: NameEntry } {
  const surname = names.surnames[rng.weightedIndex(names.surnameWeights)] as NameEntry
  const given =
    sex === 'M'
      ? (names.male[rng.weightedIndex(names.givenWeightsMale)] as NameEntry)
      : (names.female[rng.weightedIndex(names.givenWeightsFemale)] as NameEntry)
  return { surname, given }
}

function phoneFor(rng: Random, municipality: Municipality): string {
  if (rng.chance(0.6)) return `${rng.pick(['090', '080', '070'])}-${rng.digits(4)}-${rng.digits(4)}`
  const area = AREA_CODES[municipality.code.slice(0, 2)] ?? `0${rng.int(11, 99)}`
  // Ten digits in all: area code, exchange, and a four-digit subscriber number.
  return `${area}-${rng.digits(6 - area.length)}-${rng.digits(4)}`
}

function insurance(
  rng: Random,
  municipality: Municipality,
): { insurerNumber: string; insuredSymbol: string; insuredNumber: string } {
  const pref = municipality.code.slice(0, 2)
  const kind = rng.next()
  let body: string
  if (kind < 0.35)
    body = `01${pref}001` // 協会けんぽ
  else if (kind < 0.6)
    body = `06${pref}${rng.digits(3)}` // 健康保険組合
  else body = `${pref}${rng.digits(5)}` // 国民健康保険 / 後期高齢者 share the shape here
  return {
    insurerNumber: body.length === 7 ? `${body}${checkDigit(body)}` : body,
    insuredSymbol: fullWidthDigits(rng.digits(rng.int(2, 8))),
    insuredNumber: fullWidthDigits(String(rng.int(1, 99999))),
  }
}

/**
 * Town names common across Japan. A municipality holds many towns, each with its own postal code (about
 * 70 codes a municipality on average), so people are spread over a municipality's codes, not one.
 */
const TOWN_NAMES = [
  '本町',
  '栄町',
  '旭町',
  '緑町',
  '幸町',
  '東町',
  '西町',
  '南町',
  '北町',
  '若葉町',
  '桜町',
  '松原',
  '中町',
  '新町',
  '元町',
  '大町',
  '宮前',
  '寿町',
  '昭和町',
  '平和町',
  '花園',
  '泉町',
  '錦町',
  '末広町',
] as const

/**
 * A home in the municipality: its town (the municipality's reference town or one of `TOWN_NAMES`), the
 * town's postal code (the reference code's first three digits, the area, and four of its own) and the
 * block numbers.
 */
function homeIn(rng: Random, municipality: Municipality): { postal: string; address: string } {
  const t = rng.int(0, TOWN_NAMES.length)
  const town = t === 0 ? municipality.town : (TOWN_NAMES[t - 1] as string)
  const [area, local] = municipality.postal.split('-') as [string, string]
  const postal =
    t === 0 ? municipality.postal : `${area}-${String((Number(local) + t * 367) % 10000).padStart(4, '0')}`
  const numbers = fullWidthDigits(`${rng.int(1, 9)}-${rng.int(1, 30)}-${rng.int(1, 40)}`)
  return { postal, address: `${municipality.prefecture}${municipality.city}${town}${numbers}` }
}

// Variations between hospitals: what one person's identity looks like in another hospital's records.
const SMALL_TO_LARGE: Record<string, string> = {
  ャ: 'ヤ',
  ュ: 'ユ',
  ョ: 'ヨ',
  ッ: 'ツ',
  ァ: 'ア',
  ィ: 'イ',
  ゥ: 'ウ',
  ェ: 'エ',
  ォ: 'オ',
}
const KANA_TYPOS =
  'アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン'

function withVariantKanji(rng: Random, text: string, names: NameTables): string {
  const chars = [...text]
  const candidates = chars.map((c, i) => [c, i] as const).filter(([c]) => names.variants.has(c))
  if (candidates.length === 0) return text
  const [c, i] = rng.pick(candidates)
  chars[i] = rng.pick(names.variants.get(c) as readonly string[])
  return chars.join('')
}

function kanaTypo(rng: Random, kana: string): string {
  const chars = [...kana]
  if (chars.length < 2) return kana
  const i = rng.int(0, chars.length - 1)
  const op = rng.int(0, 2)
  if (op === 0) chars[i] = rng.pick([...KANA_TYPOS])
  else if (op === 1 && i + 1 < chars.length)
    [chars[i], chars[i + 1]] = [chars[i + 1] as string, chars[i] as string]
  else chars.splice(i, 1)
  return chars.join('')
}

function birthDateTypo(rng: Random, iso: string): string {
  const [y, m, d] = iso.split('-') as [string, string, string]
  if (Number(d) <= 12 && d !== m && rng.chance(0.6)) return `${y}-${d}-${m}` // day and month swapped
  const digits = [...`${y}${m}${d}`]
  const i = rng.int(4, 6)
  ;[digits[i], digits[i + 1]] = [digits[i + 1] as string, digits[i] as string]
  const candidate = `${digits.slice(0, 4).join('')}-${digits.slice(4, 6).join('')}-${digits.slice(6, 8).join('')}`
  return Number.isNaN(Date.parse(`${candidate}T00:00:00Z`)) ||
    new Date(`${candidate}T00:00:00Z`).toISOString().slice(0, 10) !== candidate
    ? iso
    : candidate
}

function diseaseChance(disease: Disease, age: number, sex: 'M' | 'F'): number {
  let factor = disease.chronic ? Math.min(1.3, Math.max(0.03, (age - 15) / 55)) : 0.6 + (age > 70 ? 0.6 : 0)
  if (disease.icd10 === 'M81.0') factor *= sex === 'F' && age > 50 ? 2 : 0.05
  if (disease.icd10 === 'H25.9' && age < 55) factor *= 0.05
  if (disease.icd10 === 'M10.9' && sex === 'F') factor *= 0.1
  return disease.prevalence70 * factor
}

function labValue(rng: Random, test: LabTest, abnormal: boolean, mild: boolean): number {
  let value: number
  if (test.key === 'hba1c')
    value = abnormal ? (mild ? rng.normal(6.9, 0.3) : rng.normal(8.2, 0.9)) : rng.normal(5.5, 0.3)
  else if (test.key === 'glu') value = abnormal ? rng.normal(mild ? 135 : 180, 20) : rng.normal(92, 9)
  else {
    const mid = (test.low + test.high) / 2
    const spread = (test.high - test.low) / 4
    value = rng.normal(abnormal ? test.high + spread : mid, spread)
  }
  const factor = 10 ** test.decimals
  return Math.max(0, Math.round(value * factor) / factor)
}

/** Generates person i. Call in increasing i: local patient IDs are handed out in that order. */
export function generatePerson(population: Population, index: number): Person {
  const { seed, names, hospitals } = population
  const rng = new Random(seed, 'person', index)
  const id = `P${String(index + 1).padStart(8, '0')}`
  const band = rng.weightedIndex(AGE_BANDS)
  const age = Math.min(104, band * 5 + rng.int(0, 4))
  const sex: 'M' | 'F' = rng.chance(age > 75 ? 0.6 : 0.51) ? 'F' : 'M'
  const birthDate = addDays(REFERENCE_DATE, -Math.round(age * 365.25) - rng.int(0, 364))
  const { surname, given } = drawName(rng, names, sex)
  const home = MUNICIPALITIES[rng.weightedIndex(MUNICIPALITY_WEIGHTS)] as Municipality
  const baseIdentity: RecordedIdentity = {
    surname: surname.kanji,
    given: given.kanji,
    surnameKana: surname.kana,
    givenKana: given.kana,
    birthDate,
    sex,
    ...homeIn(rng, home),
    municipalityCode: home.code,
    phone: phoneFor(rng, home),
    ...insurance(rng, home),
  }
  // A relative who appears in the records (next of kin, the companion named in a discharge summary).
  const spouse = age >= 20 && age <= 60
  const relativeSex: 'M' | 'F' = spouse ? (sex === 'M' ? 'F' : 'M') : rng.chance(0.5) ? 'M' : 'F'
  const relativeName = drawName(rng, names, relativeSex).given
  const relation = spouse
    ? relativeSex === 'F'
      ? '妻'
      : '夫'
    : age < 20
      ? relativeSex === 'M'
        ? '父'
        : '母'
      : relativeSex === 'M'
        ? '長男'
        : '長女'
  const relative = {
    relation,
    name: `${surname.kanji}${relativeName.kanji}`,
    kana: `${surname.kana}${relativeName.kana}`,
  }

  // Which hospitals: 1–4, mostly near home.
  const hospitalCount = Math.min(hospitals.length, [1, 1, 1, 1, 1, 2, 2, 2, 3, 4][rng.int(0, 9)] as number)
  const weights = cumulative(
    hospitals.map((h) => (h.municipality.code.slice(0, 2) === home.code.slice(0, 2) ? 6 : 1)),
  )
  const chosen: Hospital[] = []
  for (let guard = 0; chosen.length < hospitalCount && guard < 50; guard++) {
    const h = hospitals[rng.weightedIndex(weights)] as Hospital
    if (!chosen.includes(h)) chosen.push(h)
  }

  // What they have: chronic diseases by age, acute episodes, the rare tail.
  const diagnosesHad: Array<{ disease: Disease; onset: string; hospital: number }> = []
  for (const disease of DISEASES) {
    if (!rng.chance(diseaseChance(disease, age, sex))) continue
    const onset =
      disease.chronic && rng.chance(0.6)
        ? addDays(WINDOW_START, -rng.int(30, 3000))
        : addDays(WINDOW_START, rng.int(0, daysBetween(WINDOW_START, WINDOW_END) - 120))
    const hospital = disease.chronic ? 0 : rng.int(0, chosen.length - 1)
    diagnosesHad.push({ disease, onset: onset < birthDate ? addDays(birthDate, 365) : onset, hospital })
  }
  // Everyone seen somewhere has at least one reason to be seen at each hospital.
  for (let h = 0; h < chosen.length; h++) {
    if (!diagnosesHad.some((x) => x.hospital === h)) {
      const acute = DISEASES.filter((x) => !x.chronic && x.prevalence70 >= 0.01)
      diagnosesHad.push({
        disease: rng.pick(acute),
        onset: addDays(WINDOW_START, rng.int(0, 1800)),
        hospital: h,
      })
    }
  }

  const adverseEvents: Array<Person['adverseEvents'][number]> = []
  const localIdentity = (h: number, hospital: Hospital): RecordedIdentity => {
    if (h === 0) return baseIdentity
    let identity: Mutable<RecordedIdentity> = { ...baseIdentity }
    const vr = new Random(seed, 'variation', index, hospital.index)
    if (vr.chance(0.3)) identity.surname = withVariantKanji(vr, identity.surname, names)
    if (vr.chance(0.08)) identity.given = withVariantKanji(vr, identity.given, names)
    if (vr.chance(0.06))
      identity.givenKana = [...identity.givenKana].map((c) => SMALL_TO_LARGE[c] ?? c).join('')
    if (vr.chance(0.04)) identity.surnameKana = kanaTypo(vr, identity.surnameKana)
    if (vr.chance(0.03)) identity.givenKana = kanaTypo(vr, identity.givenKana)
    if (vr.chance(0.025)) identity.birthDate = birthDateTypo(vr, identity.birthDate)
    if (sex === 'F' && age >= 22 && age <= 45 && vr.chance(0.25)) {
      const married = drawName(vr, names, 'M').surname
      identity = { ...identity, surname: married.kanji, surnameKana: married.kana }
    }
    if (vr.chance(0.15)) {
      const moved = MUNICIPALITIES[vr.weightedIndex(MUNICIPALITY_WEIGHTS)] as Municipality
      identity = {
        ...identity,
        ...homeIn(vr, moved),
        municipalityCode: moved.code,
        phone: vr.chance(0.5) ? phoneFor(vr, moved) : identity.phone,
      }
    }
    if (vr.chance(0.2)) identity = { ...identity, ...insurance(vr, home) }
    return identity
  }

  const visits: PersonAtHospital[] = chosen.map((hospital, h) => {
    const counter = population.nextLocalId[hospital.index] as number
    population.nextLocalId[hospital.index] = counter + 1
    const idRng = new Random(seed, 'local-id', hospital.index)
    const base = idRng.int(10 ** (hospital.idLength - 2), 4 * 10 ** (hospital.idLength - 2))
    const localId = String(base + counter * idRng.int(1, 7)).padStart(hospital.idLength, '0')
    const events: ClinicalEvent[] = []
    for (const had of diagnosesHad.filter((x) => x.hospital === h)) {
      const department = departmentFor(hospital, had.disease.icd10)
      const physician = drawName(rng, names, rng.chance(0.7) ? 'M' : 'F').surname
      const mild = had.disease.icd10 === 'E11.9'
      const diagnosis: Diagnosis = {
        code: had.disease.medisCode,
        name: had.disease.name,
        icd10: had.disease.icd10,
        receiptCode: had.disease.receiptCode,
        medisCode: had.disease.medisCode,
        onset: had.onset,
        main: true,
      }
      const first = had.onset < WINDOW_START ? addDays(WINDOW_START, rng.int(0, 300)) : had.onset
      const visitsCount = had.disease.chronic ? rng.int(2, 6) : 1
      const drugs = (had.disease.drugs ?? [])
        .map((key) => DRUGS.find((x) => x.key === key) as Drug)
        .slice(0, rng.int(1, 2))
      let date = first
      for (let v = 0; v < visitsCount && date <= WINDOW_END; v++) {
        const labs =
          v % 2 === 0
            ? (had.disease.labs ?? []).map((key) => LAB_TESTS.find((x) => x.key === key) as LabTest)
            : []
        const admission = had.disease.admission === true && v === 0
        events.push({
          kind: admission ? 'admission' : 'outpatient',
          date,
          endDate: admission ? addDays(date, rng.int(5, 28)) : undefined,
          department,
          physician,
          diagnoses: [diagnosis],
          prescriptions: drugs.map((drug) => ({
            drug,
            days: drug.route === 'IV' ? 7 : rng.pick([14, 28, 30, 56]),
          })),
          labs: labs.map((test) => ({ test, value: labValue(rng, test, rng.chance(0.6), mild) })),
          imaging: v === 0 ? had.disease.imaging : undefined,
        })
        for (const drug of v === 0 ? drugs : []) {
          const ae = ADVERSE_EVENTS.find((a) => a.drug === drug.key)
          if (!ae || !rng.chance(ae.rate)) continue
          const onset = addDays(date, ae.intervalDays)
          if (onset > WINDOW_END) continue
          adverseEvents.push({
            drug: drug.key,
            icd10: ae.icd10,
            start: date,
            onset,
            intervalDays: ae.intervalDays,
            institution: hospital.code,
          })
          events.push({
            kind: 'outpatient',
            date: onset,
            department,
            physician,
            diagnoses: [
              {
                code: ae.medisCode,
                name: ae.name,
                icd10: ae.icd10,
                receiptCode: ae.receiptCode,
                medisCode: ae.medisCode,
                onset,
                main: true,
              },
            ],
            prescriptions: [],
            labs: [],
          })
        }
        date = addDays(date, rng.int(28, 120))
      }
    }
    if (rng.chance(0.03)) {
      // A chest X-ray for a suspected shadow: every claim carries a diagnosis, so this one does too.
      const department = hospital.departments[0] as { code: string; name: string }
      const date = addDays(WINDOW_START, rng.int(0, 1800))
      events.push({
        kind: 'outpatient',
        date,
        department,
        physician: drawName(rng, names, 'M').surname,
        diagnoses: [
          {
            code: '20066012',
            name: '肺野異常陰影',
            icd10: 'R91',
            receiptCode: '7938003',
            medisCode: '20066012',
            onset: date,
            main: true,
          },
        ],
        prescriptions: [],
        labs: [],
        imaging: 'CR',
      })
    }
    events.sort((a, b) => a.date.localeCompare(b.date))
    return {
      hospital,
      localId,
      identity: localIdentity(h, hospital),
      events,
      allergy: rng.chance(0.08)
        ? rng.pick(['ペニシリン', 'セフェム系', '造影剤', 'アスピリン', '卵', 'そば'])
        : undefined,
    }
  })

  const optOutVisit = rng.chance(0.01) ? rng.pick(visits) : undefined
  return {
    index,
    id,
    sex,
    birthDate,
    relative,
    romaji:
      surname.romaji && given.romaji
        ? { surname: surname.romaji.toUpperCase(), given: given.romaji.toUpperCase() }
        : undefined,
    visits,
    adverseEvents,
    optOut: optOutVisit
      ? {
          institution: optOutVisit.hospital.code,
          on: addDays(optOutVisit.hospital.noticeStart, rng.int(10, 900)),
        }
      : undefined,
  }
}

/** Every form in which a person's birth date is written anywhere. */
export function birthDateForms(iso: string): string[] {
  return [iso, iso.replaceAll('-', ''), iso.replaceAll('-', '/'), toWarekiText(iso)]
}

export { checkDigit }
