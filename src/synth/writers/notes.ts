import { toWarekiText } from '../../formats/wareki.js'
import type { ClinicalEvent, Hospital, Person, PersonAtHospital } from '../population.js'

/** What a span of a note identifies: the kinds of the text scrubber's placeholders. */
export type NoteIdentifierKind = '氏名' | 'ID' | '日付' | '住所' | '郵便番号' | '電話' | '医療機関' | '年齢'

/** A span of a note that identifies someone or somewhere: the truth the scrubber is measured on. */
export interface NoteIdentifier {
  readonly start: number
  readonly end: number
  readonly kind: NoteIdentifierKind
}

type Piece = string | readonly [NoteIdentifierKind, string]

/** Lines of pieces joined into the text, with the span of every identifying piece. */
function assemble(lines: readonly (readonly Piece[])[]): {
  text: string
  identifiers: NoteIdentifier[]
} {
  let text = ''
  const identifiers: NoteIdentifier[] = []
  lines.forEach((line, n) => {
    if (n > 0) text += '\n'
    for (const piece of line) {
      if (typeof piece === 'string') text += piece
      else {
        identifiers.push({ start: text.length, end: text.length + piece[1].length, kind: piece[0] })
        text += piece[1]
      }
    }
  })
  return { text, identifiers }
}

/**
 * Past histories named after people or places (橋本病, 川崎病 …): words a name finder must leave in
 * place, and so the measure of its precision. One is picked per person, or none.
 */
const HISTORIES = [
  '橋本病',
  '川崎病',
  'パーキンソン病',
  'バセドウ病',
  'クローン病',
  'アルツハイマー型認知症',
  'シェーグレン症候群',
  '高安動脈炎',
  'ベーチェット病',
  '大腸ポリープ',
  '虫垂炎術後',
  '特記事項なし',
] as const

function ageAt(birthDate: string, on: string): number {
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number]
  const [y, m, d] = on.split('-').map(Number) as [number, number, number]
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0)
}

/**
 * A discharge summary (退院時サマリー) in Japanese, as clinicians write them: it names the patient,
 * a relative, the address and phone, dates in 西暦 and 和暦, and other hospitals. These are the
 * identifiers that free-text de-identification must find; each is returned with its span.
 */
export function dischargeSummary(
  person: Person,
  stay: PersonAtHospital,
  event: ClinicalEvent,
  referrer: Hospital | undefined,
): { text: string; identifiers: NoteIdentifier[] } {
  const id = stay.identity
  const [y, m, d] = event.date.split('-').map(Number) as [number, number, number]
  const end = event.endDate ?? event.date
  const [ey, em, ed] = end.split('-').map(Number) as [number, number, number]
  const diagnosis = event.diagnoses[0]?.name ?? '精査'
  const name = (value: string) => ['氏名', value] as const
  const date = (value: string) => ['日付', value] as const
  const hospital = (value: string) => ['医療機関', value] as const
  const relative = name(person.relative.name)
  const age = ageAt(id.birthDate, event.date)
  // An age over 89 identifies (HIPAA's rule, which the scrubber follows); a younger one does not.
  const ageText = `${age}歳`
  const agePiece: Piece = age > 89 ? ['年齢', ageText] : ageText
  const history = HISTORIES[(person.index * 7 + y) % HISTORIES.length] as string
  const labs = event.labs
    .slice(0, 3)
    .map((l) => `${l.test.name} ${l.value.toFixed(l.test.decimals)} ${l.test.unit}`)
  const systolic = 110 + ((person.index * 13 + d) % 50)
  const diastolic = 60 + ((person.index * 7 + m) % 30)
  const drugs = event.prescriptions
    .slice(0, 3)
    .map((p) => `${p.drug.name} ${p.drug.dose}${p.drug.unit} ${p.days}日分`)
  const accompanied: Piece[] = [
    date(`${m}月${d}日`),
    `、${person.relative.relation}の`,
    relative,
    `さんに付き添われ当院${event.department.name}を受診し、同日入院となった。`,
  ]
  return assemble([
    ['退院時サマリー'],
    [],
    [
      '患者氏名：',
      name(id.surname),
      ' ',
      name(id.given),
      '（',
      name(id.surnameKana),
      ' ',
      name(id.givenKana),
      `）様　${id.sex === 'M' ? '男性' : '女性'}`,
    ],
    ['患者ID：', ['ID', stay.localId]],
    ['生年月日：', date(toWarekiText(id.birthDate)), '（', date(id.birthDate.replaceAll('-', '/')), '）'],
    ['住所：〒', ['郵便番号', id.postal], ' ', ['住所', id.address]],
    ['連絡先：', ['電話', id.phone], `（${person.relative.relation} `, relative, '様）'],
    [],
    ['入院日：', date(`${y}年${m}月${d}日`), '（', date(toWarekiText(event.date)), '）'],
    ['退院日：', date(`${ey}年${em}月${ed}日`)],
    [`主病名：${diagnosis}`],
    [`既往歴：${history}`],
    [],
    ['【入院までの経過】'],
    referrer ? [hospital(referrer.name), 'より紹介。', ...accompanied] : accompanied,
    [
      agePiece,
      `${id.sex === 'M' ? '男性' : '女性'}。入院時血圧 ${systolic}/${diastolic} mmHg、体温 ${36 + ((person.index + d) % 20) / 10}℃。`,
      labs.length > 0 ? `入院時検査：${labs.join('、')}。` : '',
    ],
    [],
    ['【入院後経過】'],
    [`${diagnosis}に対し加療を行い、経過は良好であった。`, date(toWarekiText(end)), 'に自宅退院とした。'],
    ...(drugs.length > 0 ? [[`退院時処方：${drugs.join('、')}。`]] : []),
    [
      '退院後は',
      ...(referrer ? [hospital(referrer.name)] : ['当院外来']),
      'にて経過観察の予定。緊急時は ',
      ['電話', stay.hospital.phone],
      '（',
      hospital(stay.hospital.name),
      '）へ連絡するよう説明した。',
    ],
    [],
    [
      '主治医：',
      name(event.physician.kanji),
      '　',
      hospital(stay.hospital.name),
      ` ${event.department.name}`,
    ],
    [],
  ])
}
