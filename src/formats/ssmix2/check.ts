import { isoFromCompactDate } from '../../model/index.js'
import { DATA_TYPES, decodeIso2022jp, parseStorageFileName } from './storage.js'

/**
 * The structure check of one SS-MIX2 storage file, modelled on the guideline's sample messages:
 * path and file name, encoding, segment terminators, MSH fields, PID against the path, and the
 * segment order of the data type. Problems name the place; they never quote a field's content.
 */
export interface StorageProblem {
  readonly path: string
  readonly where: string
  readonly problem: string
}

const validDate = (yyyymmdd: string): boolean => isoFromCompactDate(yyyymmdd) !== undefined

export interface CheckOptions {
  /**
   * Require PID-3 to name the patient of the storage path (default true). The guideline's sample
   * messages were filed under one patient with the IDs of the guideline's examples left inside, so
   * checking them needs this off.
   */
  readonly patientIdMustMatch?: boolean
}

/** `relativePath` is the path below the storage root, with `/` separators. */
export function checkStorageFile(
  relativePath: string,
  bytes: Uint8Array,
  options: CheckOptions = {},
): StorageProblem[] {
  const problems: StorageProblem[] = []
  const fail = (where: string, problem: string) => problems.push({ path: relativePath, where, problem })
  const parts = relativePath.split('/')
  if (parts.length !== 6) {
    fail('path', `expected ID[0:3]/ID[3:6]/ID/date/type/file, found ${parts.length} levels`)
    return problems
  }
  const [p1, p2, id, dateDir, typeDir, fileName] = parts as [string, string, string, string, string, string]
  const name = parseStorageFileName(fileName)
  if (!name) {
    fail('file name', 'not of the form ID_date_type_order_timestamp_department_flag')
    return problems
  }
  if (p1 !== id.slice(0, 3) || p2 !== id.slice(3, 6))
    fail('path', 'the first two folders are not ID[0:3] and ID[3:6]')
  if (name.patientId !== id) fail('file name', 'the patient ID differs from its folder')
  if (name.date !== dateDir) fail('file name', 'the date differs from its folder')
  if (dateDir !== '-' && !validDate(dateDir))
    fail('path', 'the date folder is neither - nor a valid YYYYMMDD')
  if (name.dataType !== typeDir) fail('file name', 'the data type differs from its folder')
  if (!validDate(name.timestamp.slice(0, 8)))
    fail('file name', 'the timestamp does not start with a valid date')
  const spec = DATA_TYPES[typeDir]
  if (!spec) fail('path', `unknown data type ${typeDir}`)

  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i] as number) >= 0x80) {
      fail('encoding', `byte ${i} is not 7-bit: the file is not ISO-2022-JP`)
      return problems
    }
  }
  // The guideline's own samples end with an MLLP file separator (0x1C) after the last CR: accept it.
  let decoded: string
  try {
    decoded = decodeIso2022jp(bytes)
  } catch {
    fail('encoding', 'an escape sequence or character is not ISO-2022-JP')
    return problems
  }
  const text = decoded.endsWith('\u001c') ? decoded.slice(0, -1) : decoded
  if (text.includes('\n')) fail('segments', 'a segment ends in LF; SS-MIX2 segments end in CR')
  if (!text.endsWith('\r')) fail('segments', 'the last segment does not end in CR')
  const segments = text.split('\r').filter((s) => s.length > 0)
  const msh = segments[0]?.split('|') ?? []
  if (msh[0] !== 'MSH' || msh[1] !== '^~\\&') {
    fail('MSH', 'the message does not start with MSH|^~\\&')
    return problems
  }
  // Fields are numbered as in the standard: msh[n - 1] is MSH-n.
  const messageType = (msh[8] ?? '').split('^').slice(0, 2).join('^')
  if (spec && messageType !== spec.message)
    fail('MSH-9', `message type is ${messageType || 'empty'}, expected ${spec.message} for ${typeDir}`)
  if (!/^~?ISO ?IR87$/.test(msh[17] ?? '')) fail('MSH-18', 'character set is not ~ISO IR87')
  if (!(msh[20] ?? '').includes('SS-MIX2')) fail('MSH-21', 'no SS-MIX2 profile identifier')
  const pid = segments.find((s) => s.startsWith('PID|'))?.split('|')
  if (!pid) fail('PID', 'no PID segment')
  else if (options.patientIdMustMatch !== false && (pid[3] ?? '').split('~')[0]?.split('^')[0] !== id)
    fail('PID-3', 'the patient ID differs from the storage path')
  const order = `${segments.map((s) => s.slice(0, 3)).join(' ')} `
  if (spec && !spec.segments.test(order))
    fail('segments', `segment order does not fit ${typeDir}: ${order.trim()}`)
  return problems
}
