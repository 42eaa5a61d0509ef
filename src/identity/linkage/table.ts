import type { LinkRecord } from './fields.js'

/**
 * The records of a run as columns, for the compare stage: what the comparators read, and nothing
 * else, in a form that crosses to worker threads cheaply (typed arrays and arrays of strings, no
 * object per record) and compares cheaply (names as ids: equal names are equal ids, and how near two
 * names are is remembered by id pair). A missing value is -1 (ids, sex) or `undefined` (text).
 */
export interface RecordTable {
  readonly n: number
  /** Every surname, given name and reading, once; the name columns hold indices into it. */
  readonly names: readonly string[]
  readonly surname: Int32Array
  readonly given: Int32Array
  readonly surnameKana: Int32Array
  readonly givenKana: Int32Array
  readonly surnameLoose: ReadonlyArray<string | undefined>
  readonly givenLoose: ReadonlyArray<string | undefined>
  readonly birthDate: ReadonlyArray<string | undefined>
  /** 0 male, 1 female, -1 unknown. */
  readonly sex: Int8Array
  readonly postalCode: ReadonlyArray<string | undefined>
  readonly prefecture: ReadonlyArray<string | undefined>
  readonly municipality: ReadonlyArray<string | undefined>
  readonly addressLine: ReadonlyArray<string | undefined>
  /** Record i's phones are `phones[phoneStart[i] … phoneStart[i + 1])`, mobiles flagged. */
  readonly phoneStart: Int32Array
  readonly phones: readonly string[]
  readonly mobile: Uint8Array
  readonly insurerNumber: ReadonlyArray<string | undefined>
  readonly insuredSymbol: ReadonlyArray<string | undefined>
  readonly insuredNumber: ReadonlyArray<string | undefined>
}

export function recordTable(records: readonly LinkRecord[]): RecordTable {
  const n = records.length
  const names: string[] = []
  const ids = new Map<string, number>()
  const intern = (value: string | undefined): number => {
    if (value === undefined) return -1
    let id = ids.get(value)
    if (id === undefined) {
      id = names.length
      names.push(value)
      ids.set(value, id)
    }
    return id
  }
  const column = (get: (r: LinkRecord) => string | undefined) => records.map(get)
  const phoneStart = new Int32Array(n + 1)
  const phones: string[] = []
  const mobile: number[] = []
  for (let i = 0; i < n; i++) {
    const record = records[i] as LinkRecord
    phoneStart[i] = phones.length
    for (const phone of record.phones) {
      phones.push(phone)
      mobile.push(record.mobiles.includes(phone) ? 1 : 0)
    }
  }
  phoneStart[n] = phones.length
  return {
    n,
    names,
    surname: Int32Array.from(records, (r) => intern(r.surname)),
    given: Int32Array.from(records, (r) => intern(r.given)),
    surnameKana: Int32Array.from(records, (r) => intern(r.surnameKana)),
    givenKana: Int32Array.from(records, (r) => intern(r.givenKana)),
    surnameLoose: column((r) => r.surnameKanaLoose),
    givenLoose: column((r) => r.givenKanaLoose),
    birthDate: column((r) => r.birthDate),
    sex: Int8Array.from(records, (r) => (r.sex === 'M' ? 0 : r.sex === 'F' ? 1 : -1)),
    postalCode: column((r) => r.postalCode),
    prefecture: column((r) => r.prefecture),
    municipality: column((r) => r.municipality),
    addressLine: column((r) => r.addressLine),
    phoneStart,
    phones,
    mobile: Uint8Array.from(mobile),
    insurerNumber: column((r) => r.insurerNumber),
    insuredSymbol: column((r) => r.insuredSymbol),
    insuredNumber: column((r) => r.insuredNumber),
  }
}
