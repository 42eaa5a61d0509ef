import Encoding from 'encoding-japanese'
import { toWarekiDigits, toWarekiMonthDigits } from '../../formats/wareki.js'
import type { Hospital, Person, PersonAtHospital } from '../population.js'
import { RARE_ICD10 } from '../reference.js'
import type { FileSink } from '../sink.js'

/**
 * Monthly electronic claims (レセプト電算処理, `.UKE`) per hospital: CP932, CRLF, comma-separated,
 * IR … RE HO [KO] SY* SI* IY* [TO] [CO] … GO. Claims before April 2020 write dates in 7-digit 和暦
 * (GYYMMDD, months as GYYMM), as the older record layout did; later ones in 8-digit 西暦.
 */
const WAREKI_UNTIL = '2020-04'
const DAYS = 31

function cp932(text: string): Buffer {
  return Buffer.from(Encoding.convert(Encoding.stringToCode(text), { to: 'SJIS', from: 'UNICODE' }))
}

const halfWidthKana = (kana: string) => Encoding.toHankanaCase(kana)

function nextMonth(yyyymm: string): string {
  const y = Number(yyyymm.slice(0, 4))
  const m = Number(yyyymm.slice(4, 6))
  return m === 12 ? `${y + 1}01` : `${y}${String(m + 1).padStart(2, '0')}`
}

/** A record padded with empty fields to its layout's length. */
function record(fields: string[], length: number): string {
  return [...fields, ...Array.from({ length: length - fields.length }, () => '')].join(',')
}

/** A record with day counts: the fixed fields, three empty comment pairs, then the 31 day columns. */
function withDays(fixed: string[], day: number, count: number): string {
  const days = Array.from({ length: DAYS }, (_, i) => (i + 1 === day ? String(count) : ''))
  return [...fixed, '', '', '', '', '', '', ...days].join(',')
}

interface ClaimFile {
  receipts: number
  points: number
}

export class UkeWriter {
  readonly #sink: FileSink
  readonly #files = new Map<string, ClaimFile & { hospital: Hospital; claimMonth: string }>()

  constructor(sink: FileSink) {
    this.#sink = sink
  }

  write(person: Person, stay: PersonAtHospital): void {
    const byMonth = new Map<string, PersonAtHospital['events'][number][]>()
    for (const event of stay.events) {
      const month = event.date.slice(0, 7).replace('-', '')
      byMonth.set(month, [...(byMonth.get(month) ?? []), event])
    }
    for (const [month, events] of byMonth) this.#receipt(person, stay, month, events)
  }

  #receipt(
    person: Person,
    stay: PersonAtHospital,
    month: string,
    events: PersonAtHospital['events'][number][],
  ): void {
    const claimMonth = nextMonth(month)
    const path = `${stay.hospital.code}/uke/${claimMonth}/RECEIPTC.UKE`
    const wareki = `${claimMonth.slice(0, 4)}-${claimMonth.slice(4)}` < WAREKI_UNTIL
    const date = (iso: string) => (wareki ? toWarekiDigits(iso) : iso.replaceAll('-', ''))
    const monthField = (yyyymm: string) =>
      wareki ? toWarekiMonthDigits(`${yyyymm.slice(0, 4)}-${yyyymm.slice(4)}`) : yyyymm
    let file = this.#files.get(path)
    if (!file) {
      file = { receipts: 0, points: 0, hospital: stay.hospital, claimMonth }
      this.#files.set(path, file)
      const h = stay.hospital
      const ir = [
        'IR',
        '1',
        h.code.slice(0, 2),
        '1',
        h.code.slice(3),
        '',
        h.name,
        monthField(claimMonth),
        '00',
        h.phone.replaceAll('-', ''),
      ]
      this.#sink.append(path, cp932(`${ir.join(',')}\r\n`))
    }
    file.receipts++
    const id = stay.identity
    const inpatient = events.some((e) => e.kind === 'admission')
    const age = Number(month.slice(0, 4)) - Number(person.birthDate.slice(0, 4))
    const type = age >= 75 ? (inpatient ? '1317' : '1318') : inpatient ? '1111' : '1112'
    const kana = `${id.surnameKana} ${id.givenKana}`
    const lines: string[] = []
    const re = Array.from({ length: 38 }, () => '')
    re[0] = 'RE'
    re[1] = String(file.receipts)
    re[2] = type
    re[3] = monthField(month)
    re[4] = `${id.surname}　${id.given}`
    re[5] = id.sex === 'M' ? '1' : '2'
    re[6] = date(id.birthDate)
    re[8] = inpatient ? date(events.find((e) => e.kind === 'admission')?.date as string) : ''
    re[13] = stay.localId
    re[36] = stay.hospital.halfWidthKana ? halfWidthKana(kana) : kana
    lines.push(re.join(','))
    const body: string[] = []
    let points = 0
    const visitDays = new Set(events.map((e) => Number(e.date.slice(8, 10))))
    const seenDiagnoses = new Set<string>()
    for (const event of events) {
      for (const d of event.diagnoses) {
        if (seenDiagnoses.has(d.receiptCode)) continue
        seenDiagnoses.add(d.receiptCode)
        body.push(
          [
            'SY',
            d.receiptCode,
            date(d.onset < '1990-01-01' ? '1990-01-01' : d.onset),
            '1',
            '',
            '',
            d.main ? '01' : '',
            '',
          ].join(','),
        )
      }
      const day = Number(event.date.slice(8, 10))
      const first = event === events[0] && event.diagnoses.some((d) => d.onset === event.date)
      const fee = first
        ? { code: '111000110', points: 288, kind: '11' }
        : { code: '112007410', points: 73, kind: '12' }
      body.push(withDays(['SI', fee.kind, '1', fee.code, '', String(fee.points), '1'], day, 1))
      points += fee.points
      for (const p of event.prescriptions) {
        const drugPoints = Math.max(1, Math.round(p.drug.dose * 1.5))
        const kind = p.drug.route === 'IV' || p.drug.route === 'SC' ? '33' : '21'
        if (kind === '21') body.push(`CO,21,1,810000001,${p.drug.usage}`)
        body.push(
          withDays(
            ['IY', kind, '1', p.drug.receiptCode, String(p.drug.dose), String(drugPoints), String(p.days)],
            day,
            p.days,
          ),
        )
        points += drugPoints * p.days
        if (kind === '33') {
          body.push(
            withDays(['TO', kind, '1', '710010000', '1', '10', '1', '005', '100', '', '注射器'], day, 1),
          )
          points += 10
        }
      }
      for (const lab of event.labs) {
        body.push(
          withDays(
            ['SI', '60', '1', `16000${lab.test.jlac10.slice(0, 4).replace(/\D/g, '0')}`, '', '11', '1'],
            day,
            1,
          ),
        )
        points += 11
      }
    }
    lines.push(
      record(
        ['HO', id.insurerNumber, id.insuredSymbol, id.insuredNumber, String(visitDays.size), String(points)],
        15,
      ),
    )
    if (events.some((e) => e.diagnoses.some((d) => RARE_ICD10.has(d.icd10)))) {
      // 公費 for a designated intractable disease (法別番号 54): payer number, recipient number.
      const payer = `54${stay.hospital.code.slice(0, 2)}${stay.localId.slice(-4).padStart(4, '0')}`
      lines.push(
        record(
          ['KO', payer, stay.localId.slice(-7).padStart(7, '0'), '', String(visitDays.size), String(points)],
          12,
        ),
      )
    }
    lines.push(...body)
    file.points += points
    this.#sink.append(path, cp932(`${lines.join('\r\n')}\r\n`))
  }

  /** Closes every claims file with its GO record (count and total points). */
  finish(): void {
    for (const [path, file] of this.#files) {
      this.#sink.append(path, cp932(`GO,${file.receipts},${file.points},99\r\n`))
    }
  }
}
