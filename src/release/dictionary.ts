import type { AnonymizationReport } from '../anonymize/index.js'

/**
 * The data dictionary of a release (データ定義書): what each variable is and what was done to it, one
 * row per table and variable, written as data_dictionary.csv.
 */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  person: "the person's pseudonym in this release (the same in every table; another release's differ)",
  age: 'age in whole years on the cohort reference day, generalized to bands',
  sex: 'sex: M, F, O (other) or U (unknown)',
  area: 'prefecture and municipality of residence (no street, no number), generalized when needed',
  date: "the event's date, moved by the person's offset",
  class: 'outpatient or inpatient',
  event: 'visit, admission, discharge or transfer',
  department: 'the department, as the hospital named it',
  icd10: 'ICD-10 code of the diagnosis',
  medis_code: 'MEDIS standard disease name code (病名交換用コード)',
  name: 'the name as the source wrote it (diagnosis, drug, test or allergen)',
  main: 'true for the main diagnosis (主病名)',
  hot9: 'HOT9 drug code',
  receipt_code: 'レセプト電算処理システム code',
  dose: 'dose per administration',
  unit: 'unit of the dose or the result',
  route: 'route of administration',
  days: 'days prescribed',
  injection: 'true for an injection',
  jlac10: 'JLAC10 laboratory code',
  value: 'the result as reported',
  flag: 'abnormal flag (H, L …)',
  code: 'procedure code (診療行為コード)',
  category: 'category',
  count: 'times performed in the month',
  modality: 'DICOM modality',
  body_part: 'body part examined',
  study: 'study instance UID, replaced for this release',
  series: 'series instance UID, replaced for this release',
  file: 'path of the file in this package',
  title: 'document title, scrubbed',
}

export function describeVariable(
  table: string,
  variable: string,
  report: AnonymizationReport,
  days: number,
): [description: string, processing: string] {
  const description = DESCRIPTIONS[variable] ?? variable
  if (variable === 'person') return [description, 'keyed pseudonym (HMAC-SHA-256 under the release key)']
  if (table === 'persons') {
    const column = report.columns.find((c) => c.column === variable)
    const h = column?.hierarchy
    return [description, h ? `generalized to level ${h.level} of ${h.height} (${h.source})` : 'kept']
  }
  if (variable === 'date') return [description, `shifted by the person's offset (±1–${days} days)`]
  if (variable === 'study' || variable === 'series')
    return [description, 'replaced by a 2.25 UID derived under the release key']
  if (variable === 'file')
    return [description, table === 'images' ? 'de-identified per DICOM PS3.15 Annex E' : 'scrubbed free text']
  return [description, 'kept; values held by fewer persons than the threshold replaced by *']
}
