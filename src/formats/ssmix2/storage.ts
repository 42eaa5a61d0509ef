import { isAscii } from 'node:buffer'
import Encoding from 'encoding-japanese'

/**
 * SS-MIX2 standardized storage (標準化ストレージ): the folder layout, the file-name fields, the
 * message types per data type, and ISO-2022-JP text. Pure: no I/O.
 *
 * Layout: `<ID[0:3]>/<ID[3:6]>/<ID>/<YYYYMMDD or ->/<data type>/<file>`, file name
 * `<ID>_<YYYYMMDD or ->_<data type>_<order no.>_<timestamp(17)>_<department or ->_<flag>`.
 */
export interface StorageFileName {
  readonly patientId: string
  /** 診療日 YYYYMMDD, or `-` for data without a date (ADT-00, PPR-01 …). */
  readonly date: string
  readonly dataType: string
  /** オーダ番号, 15 characters (`999999999999999` when there is none). */
  readonly orderNo: string
  /** 発生日時 YYYYMMDDHHMMSSfff. */
  readonly timestamp: string
  /** 診療科コード, or `-`. */
  readonly department: string
  /** コンディションフラグ: 1 valid, 2 superseded by a later message, 0 deleted. */
  readonly flag: '0' | '1' | '2'
}

/** Message type (MSH-9, code^event) and segment grammar of each data type. */
export const DATA_TYPES: Readonly<Record<string, { readonly message: string; readonly segments: RegExp }>> = {
  'ADT-00': { message: 'ADT^A08', segments: /^MSH EVN PID (NK1 )*(PV1 )?(DB1 )*(OBX )*(AL1 )*(IN1 )*$/ },
  'ADT-12': { message: 'ADT^A04', segments: /^MSH EVN PID PV1 $/ },
  'ADT-22': { message: 'ADT^A01', segments: /^MSH EVN PID PV1 $/ },
  'ADT-42': { message: 'ADT^A02', segments: /^MSH EVN PID PV1 $/ },
  'ADT-52': { message: 'ADT^A03', segments: /^MSH EVN PID PV1 $/ },
  'ADT-61': { message: 'ADT^A60', segments: /^MSH EVN PID (IAM )+$/ },
  'PPR-01': { message: 'PPR^ZD1', segments: /^MSH PID (PRB (ZPR )?)+(ZI1 )*(ORC )*$/ },
  OMD: { message: 'OMD^O03', segments: /^MSH PID PV1 (ORC TQ1 (ODS )+)+$/ },
  'OMP-01': { message: 'RDE^O11', segments: /^MSH PID PV1 (ORC RXE (TQ1 )+(RXR )+)+$/ },
  'OMP-02': { message: 'RDE^O11', segments: /^MSH PID PV1 (ORC RXE (TQ1 )+(RXR )+(RXC )*)+$/ },
  'OMP-11': { message: 'RAS^O17', segments: /^MSH PID PV1 (ORC (RXA )+(RXR )+)+$/ },
  'OMP-12': { message: 'RAS^O17', segments: /^MSH PID PV1 (ORC (RXA )+(RXR )+)+$/ },
  'OML-01': { message: 'OML^O33', segments: /^MSH PID PV1 (SPM ORC OBR (OBX )*)+$/ },
  'OML-11': { message: 'OUL^R22', segments: /^MSH PID PV1 (SPM OBR ORC (OBX )+)+$/ },
  'OMG-01': { message: 'OMG^O19', segments: /^MSH PID PV1 (ORC TQ1 OBR (OBX )*)+$/ },
  'OMG-02': { message: 'OMG^O19', segments: /^MSH PID PV1 (ORC TQ1 OBR (OBX )*)+$/ },
  'OMG-03': { message: 'OMG^O19', segments: /^MSH PID PV1 (ORC TQ1 OBR (OBX )*)+$/ },
  'OMG-11': { message: 'OMI^Z23', segments: /^MSH PID PV1 (ORC TQ1 OBR (ZE1 |OBX )*IPC )+$/ },
  'OMG-12': { message: 'OMI^Z23', segments: /^MSH PID PV1 (ORC TQ1 OBR (ZE1 |OBX )*IPC )+$/ },
  'OMG-13': { message: 'ORU^R01', segments: /^MSH PID PV1 (OBR (OBX )+)+$/ },
}

/** The SS-MIX2 profile identifier written in MSH-21. */
export const SSMIX2_PROFILE = 'SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO'

export function formatStorageFileName(name: StorageFileName): string {
  return [
    name.patientId,
    name.date,
    name.dataType,
    name.orderNo,
    name.timestamp,
    name.department,
    name.flag,
  ].join('_')
}

/** The file's path below the storage root. */
export function storageRelativePath(name: StorageFileName): string {
  const id = name.patientId
  return [id.slice(0, 3), id.slice(3, 6), id, name.date, name.dataType, formatStorageFileName(name)].join('/')
}

const FILE_NAME = /^([^_/]+)_(\d{8}|-)_([A-Z]{3}(?:-\d{2})?)_([^_]{1,15})_(\d{17})_([^_]+)_([012])$/

export function parseStorageFileName(fileName: string): StorageFileName | undefined {
  const match = FILE_NAME.exec(fileName)
  if (!match) return undefined
  return {
    patientId: match[1] as string,
    date: match[2] as string,
    dataType: match[3] as string,
    orderNo: match[4] as string,
    timestamp: match[5] as string,
    department: match[6] as string,
    flag: match[7] as '0' | '1' | '2',
  }
}

/** Text as ISO-2022-JP bytes (with the CP932 extensions Windows systems write, e.g. 髙 and 﨑). */
export function encodeIso2022jp(text: string): Buffer {
  return Buffer.from(Encoding.convert(Encoding.stringToCode(text), { to: 'JIS', from: 'UNICODE' }))
}

/**
 * The WHATWG ISO-2022-JP decoder that Node carries (ICU), which maps the same CP932 extensions as
 * encoding-japanese does (property-tested in storage.test.ts) at a tenth of the cost. It lacks
 * JIS X 0212, and Node built without full ICU lacks it altogether: encoding-japanese decodes those.
 */
const nativeDecoder = (() => {
  try {
    return new TextDecoder('iso-2022-jp', { fatal: true })
  } catch {
    return undefined
  }
})()

const ESC = 0x1b

const lenientDecode = (bytes: Uint8Array) =>
  Encoding.codeToString(Encoding.convert(Array.from(bytes), { to: 'UNICODE', from: 'JIS' }))

/**
 * ISO-2022-JP bytes as text. Throws a `RangeError` on a byte of eight bits, which ISO-2022-JP never
 * has — unless `lenient`, for DICOM, whose Japanese character sets add 8-bit JIS X 0201 kana.
 */
export function decodeIso2022jp(bytes: Uint8Array, options: { lenient?: boolean } = {}): string {
  if (options.lenient) {
    try {
      return decodeIso2022jp(bytes)
    } catch {
      return lenientDecode(bytes)
    }
  }
  if (!isAscii(bytes)) throw new RangeError('ISO-2022-JP has no 8-bit bytes')
  // Without an escape sequence the text is ASCII throughout.
  if (!bytes.includes(ESC))
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  if (nativeDecoder) {
    try {
      return nativeDecoder.decode(bytes)
    } catch {
      // JIS X 0212 (ESC $ ( D), which encoding-japanese writes for № and some kanji: decoded below.
    }
  }
  return lenientDecode(bytes)
}

/** Whether every character survives ISO-2022-JP. */
export function isIso2022jpEncodable(text: string): boolean {
  return decodeIso2022jp(encodeIso2022jp(text)) === text
}
