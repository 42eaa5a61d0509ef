import { toWarekiText } from '../../formats/wareki.js'
import type { ClinicalEvent, Hospital, Person, PersonAtHospital } from '../population.js'

/**
 * A discharge summary (退院時サマリー) in Japanese, as clinicians write them: it names the patient,
 * a relative, the address and phone, dates in 西暦 and 和暦, and other hospitals. These are the
 * identifiers that free-text de-identification must find.
 */
export function dischargeSummary(
  person: Person,
  stay: PersonAtHospital,
  event: ClinicalEvent,
  referrer: Hospital | undefined,
): string {
  const id = stay.identity
  const [y, m, d] = event.date.split('-').map(Number) as [number, number, number]
  const end = event.endDate ?? event.date
  const [ey, em, ed] = end.split('-').map(Number) as [number, number, number]
  const diagnosis = event.diagnoses[0]?.name ?? '精査'
  const lines = [
    '退院時サマリー',
    '',
    `患者氏名：${id.surname} ${id.given}（${id.surnameKana} ${id.givenKana}）様　${id.sex === 'M' ? '男性' : '女性'}`,
    `患者ID：${stay.localId}`,
    `生年月日：${toWarekiText(id.birthDate)}（${id.birthDate.replaceAll('-', '/')}）`,
    `住所：〒${id.postal} ${id.address}`,
    `連絡先：${id.phone}（${person.relative.relation} ${person.relative.name}様）`,
    '',
    `入院日：${y}年${m}月${d}日（${toWarekiText(event.date)}）`,
    `退院日：${ey}年${em}月${ed}日`,
    `主病名：${diagnosis}`,
    '',
    '【入院までの経過】',
    referrer
      ? `${referrer.name}より紹介。${m}月${d}日、${person.relative.relation}の${person.relative.name}さんに付き添われ当院${event.department.name}を受診し、同日入院となった。`
      : `${m}月${d}日、${person.relative.relation}の${person.relative.name}さんに付き添われ当院${event.department.name}を受診し、同日入院となった。`,
    '',
    '【入院後経過】',
    `${diagnosis}に対し加療を行い、経過は良好であった。${toWarekiText(end)}に自宅退院とした。`,
    `退院後は${referrer ? `${referrer.name}` : '当院外来'}にて経過観察の予定。緊急時は ${stay.hospital.phone}（${stay.hospital.name}）へ連絡するよう説明した。`,
    '',
    `主治医：${event.physician.kanji}　${stay.hospital.name} ${event.department.name}`,
    '',
  ]
  return lines.join('\n')
}
