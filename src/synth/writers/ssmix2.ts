import { formatHl7Message, type Hl7Field, type Hl7Segment, segmentAt } from '../../formats/hl7v2/index.js'
import {
  encodeIso2022jp,
  isIso2022jpEncodable,
  SSMIX2_PROFILE,
  type StorageFileName,
  storageRelativePath,
} from '../../formats/ssmix2/index.js'
import type { ClinicalEvent, Person, PersonAtHospital } from '../population.js'
import { Random } from '../random.js'
import type { FileSink } from '../sink.js'

/**
 * One hospital's SS-MIX2 standardized storage for one person: ADT-00 (patient), ADT-12/22/52
 * (visits, admissions, discharges), ADT-61 (allergies), PPR-01 (diagnoses), OMP-01/02 (oral and
 * injected prescriptions), OML-11 (lab results). Some orders were changed (an earlier message with
 * flag 2) or cancelled (flag 0), as the storage rules record them.
 */
const compact = (iso: string) => iso.replaceAll('-', '')

/** Characters the hospital's system cannot store in ISO-2022-JP are stored as 〓 (geta), as real systems do. */
const encodable = new Map<string, boolean>()

function jisSafe(text: string): string {
  let ok = encodable.get(text)
  if (ok === undefined) {
    ok = isIso2022jpEncodable(text)
    if (encodable.size > 50_000) encodable.clear()
    encodable.set(text, ok)
  }
  if (ok) return text
  return [...text].map((c) => (isIso2022jpEncodable(c) ? c : '〓')).join('')
}

function msh(type: string, timestamp: string, control: string): Hl7Segment {
  // MSH-18 `~ISO IR87`: an empty first repetition (ASCII), then JIS X 0208.
  const characterSet = { repeat: ['', 'ISO IR87'] }
  const fields: Hl7Field[] = [
    'HIS',
    'SENDER',
    'GW',
    'RECEIVER',
    timestamp,
    '',
    type.split('^'),
    control,
    'P',
    '2.5',
  ]
  return ['MSH', ...fields, '', '', '', '', '', characterSet, '', 'ISO2022-1994', SSMIX2_PROFILE.split('^')]
}

/** XTN with the number in component 12 (unformatted telephone), as the SS-MIX2 samples write it. */
const phoneField = (phone: string): string[] => ['', 'PRN', 'PH', ...Array<string>(8).fill(''), phone]

function pid(stay: PersonAtHospital, withContacts: boolean): Hl7Segment {
  const id = stay.identity
  const name = {
    repeat: [
      [jisSafe(id.surname), jisSafe(id.given), '', '', '', '', 'L', 'I'],
      [id.surnameKana, id.givenKana, '', '', '', '', 'L', 'P'],
    ],
  }
  const fields: Hl7Field[] = [
    '0001',
    '',
    [stay.localId, '', '', '', 'PI'],
    '',
    name,
    '',
    compact(id.birthDate),
    id.sex,
  ]
  if (withContacts) {
    fields.push(
      '',
      '',
      ['', '', '', '', id.postal, 'JPN', 'H', jisSafe(id.address)],
      '',
      phoneField(id.phone),
    )
  }
  return ['PID', ...fields]
}

function physician(event: ClinicalEvent, code: string): string[] {
  return [code, jisSafe(event.physician.kanji), '医師', '', '', '', '', '', '', 'L', '', '', '', '', 'I']
}

export function writeSsmix2(sink: FileSink, seed: string, person: Person, stay: PersonAtHospital): void {
  const rng = new Random(seed, 'ssmix2', person.index, stay.hospital.index)
  const base = `${stay.hospital.code}/ssmix2`
  let sequence = 0
  const put = (
    name: Omit<StorageFileName, 'patientId' | 'timestamp'> & { at: string },
    type: string,
    segments: Hl7Segment[],
  ) => {
    sequence++
    const timestamp = `${compact(name.at)}${String(9 + (sequence % 9)).padStart(2, '0')}${String(sequence % 60).padStart(2, '0')}${String(rng.int(0, 59)).padStart(2, '0')}${String(rng.int(0, 999)).padStart(3, '0')}`
    const file: StorageFileName = { ...name, patientId: stay.localId, timestamp }
    const message = [msh(type, timestamp.slice(0, 14), `${timestamp}${sequence}`), ...segments]
    sink.writeFile(`${base}/${storageRelativePath(file)}`, encodeIso2022jp(formatHl7Message(message)))
  }
  const first = stay.events[0]?.date ?? '2018-04-01'
  const id = stay.identity
  const adt00: Hl7Segment[] = [
    ['EVN', '', `${compact(first)}0900`],
    pid(stay, true),
    [
      'NK1',
      '1',
      {
        repeat: [
          [jisSafe(person.relative.name), '', '', '', '', '', 'L', 'I'],
          [person.relative.kana, '', '', '', '', '', 'L', 'P'],
        ],
      },
      ['', jisSafe(person.relative.relation), 'HL70063'],
      '',
      phoneField(id.phone),
    ],
    ['PV1', '0001', 'O'],
    ['IN1', '1', ['', '', 'JHSD0001'], id.insurerNumber, '', '', '', '', '', '', '', '', ''],
  ]
  put(
    { date: '-', dataType: 'ADT-00', orderNo: '999999999999999', department: '-', flag: '1', at: first },
    'ADT^A08^ADT_A01',
    adt00,
  )

  if (stay.allergy) {
    put(
      { date: '-', dataType: 'ADT-61', orderNo: '999999999999999', department: '-', flag: '1', at: first },
      'ADT^A60^ADT_A60',
      [
        ['EVN', '', `${compact(first)}0900`],
        pid(stay, false),
        [
          'IAM',
          '1',
          ['DA', '薬剤アレルギー', 'HL70127'],
          ['', jisSafe(stay.allergy), '99XYZ'],
          '',
          '',
          ['A', '追加', 'HL70323'],
        ],
      ],
    )
  }

  let order = rng.int(1, 9) * 10 ** 10
  const nextOrder = () => String(++order).padStart(15, '0')
  for (const event of stay.events) {
    const date = compact(event.date)
    const dept = event.department.code
    const pv1: Hl7Segment = [
      'PV1',
      '0001',
      event.kind === 'admission' ? 'I' : 'O',
      [dept, '', '', '', '', 'C'],
      '',
      '',
      '',
      physician(event, '110'),
    ]
    if (event.kind === 'admission') {
      put(
        { date, dataType: 'ADT-22', orderNo: '999999999999999', department: dept, flag: '1', at: event.date },
        'ADT^A01^ADT_A01',
        [['EVN', '', `${date}1000`], pid(stay, false), pv1],
      )
      if (event.endDate) {
        const end = compact(event.endDate)
        put(
          {
            date: end,
            dataType: 'ADT-52',
            orderNo: '999999999999999',
            department: dept,
            flag: '1',
            at: event.endDate,
          },
          'ADT^A03^ADT_A03',
          [['EVN', '', `${end}1100`], pid(stay, false), pv1],
        )
      }
    } else {
      put(
        { date, dataType: 'ADT-12', orderNo: '999999999999999', department: dept, flag: '1', at: event.date },
        'ADT^A04^ADT_A01',
        [['EVN', '', `${date}0830`], pid(stay, false), pv1],
      )
    }
    if (event.diagnoses.length > 0) {
      const prb: Hl7Segment[] = event.diagnoses.flatMap((d) => [
        [
          'PRB',
          'AD',
          date,
          [d.medisCode, d.name, 'MDCDX2'],
          nextOrder(),
          '',
          '',
          compact(d.onset),
          '',
          date,
          [d.icd10.replace('.', ''), '', 'I10'],
          '',
          '',
          '',
          '',
          '',
          compact(d.onset),
          d.name,
          d.main ? ['1', '主診断', 'JHSD0007'] : '',
        ] satisfies Hl7Segment,
        ['ZPR', '', [d.medisCode, d.name, 'MDCDX2']] as Hl7Segment,
      ])
      put(
        { date: '-', dataType: 'PPR-01', orderNo: nextOrder(), department: dept, flag: '1', at: event.date },
        'PPR^ZD1^PPR_ZD1',
        [
          pid(stay, false),
          ...prb,
          ['ORC', 'NW', nextOrder(), '', '', '', '', '', '', '', '', '', physician(event, '110')],
        ],
      )
    }
    const oral = event.prescriptions.filter((p) => p.drug.route !== 'IV' && p.drug.route !== 'SC')
    const injected = event.prescriptions.filter((p) => p.drug.route === 'IV' || p.drug.route === 'SC')
    for (const [dataType, list] of [
      ['OMP-01', oral],
      ['OMP-02', injected],
    ] as const) {
      if (list.length === 0) continue
      const orderNo = nextOrder()
      const segments = (doseFactor: number): Hl7Segment[] => [
        pid(stay, false),
        pv1,
        ...list.flatMap((p): Hl7Segment[] => {
          const orc: Hl7Segment = [
            'ORC',
            'NW',
            orderNo,
            '',
            '1',
            '',
            '',
            '',
            '',
            `${date}1030`,
            '',
            '',
            physician(event, '110'),
            [dept, '', '', '', '', 'C'],
          ]
          const rxe: Hl7Segment = [
            'RXE',
            '',
            [p.drug.hot9, p.drug.name, 'HOT9'],
            String(p.drug.dose * doseFactor),
            '',
            [p.drug.unitCode, p.drug.unit, 'MR9P'],
            '',
            '',
            '',
            '',
            String(p.drug.dose * doseFactor * p.days),
            [p.drug.unitCode, p.drug.unit, 'MR9P'],
          ]
          const tq1: Hl7Segment = [
            'TQ1',
            '1',
            '',
            ['', p.drug.usage, 'JAMISDP01'],
            '',
            '',
            [String(p.days), 'd'],
            `${date}0000`,
          ]
          const rxr: Hl7Segment = ['RXR', [p.drug.route, '', 'HL70162']]
          const rxc: Hl7Segment[] =
            dataType === 'OMP-02'
              ? [['RXC', 'B', ['100000', '生理食塩液', 'HOT9'], '100', ['ML', 'mL', 'MR9P']]]
              : []
          return [orc, rxe, tq1, rxr, ...rxc]
        }),
      ]
      // A changed order: the first version stays with flag 2, the valid one follows with flag 1.
      if (rng.chance(0.05))
        put(
          { date, dataType, orderNo, department: dept, flag: '2', at: event.date },
          'RDE^O11^RDE_O11',
          segments(2),
        )
      put(
        { date, dataType, orderNo, department: dept, flag: rng.chance(0.02) ? '0' : '1', at: event.date },
        'RDE^O11^RDE_O11',
        segments(1),
      )
    }
    if (event.labs.length > 0) {
      const orderNo = nextOrder()
      const specimen = nextOrder()
      put(
        { date, dataType: 'OML-11', orderNo, department: dept, flag: '1', at: event.date },
        'OUL^R22^OUL_R22',
        [
          pid(stay, false),
          pv1,
          segmentAt('SPM', { 1: '1', 2: specimen, 4: ['023', '血清', 'JC10'], 17: `${date}0930` }),
          ['OBR', '1', orderNo, specimen, ['E001', '検体検査', '99O03'], '', '', date, date],
          segmentAt('ORC', {
            1: 'SC',
            2: orderNo,
            3: specimen,
            5: 'CM',
            9: `${date}1200`,
            12: physician(event, '110'),
          }),
          ...event.labs.map(
            (lab, i): Hl7Segment => [
              'OBX',
              String(i + 1),
              'NM',
              [lab.test.jlac10, lab.test.name, 'JC10'],
              '',
              lab.value.toFixed(lab.test.decimals),
              [lab.test.unit, lab.test.unit, '99XYZ'],
              `${lab.test.low}-${lab.test.high}`,
              lab.value > lab.test.high ? 'H' : lab.value < lab.test.low ? 'L' : '',
              '',
              '',
              'F',
            ],
          ),
        ],
      )
    }
  }
}
