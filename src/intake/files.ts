import { gunzipSync } from 'node:zlib'
import type { ItemFormat } from '../db/index.js'
import { parseStorageFileName } from '../formats/ssmix2/index.js'

/**
 * What intake decides about a file before reading it: is its path safe, how may it be shown, which
 * format and data category is it, and does it inflate to something sane. Pure.
 */

export type PathCheck =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly reason: string }

const MAX_PATH_CHARS = 1024

/**
 * A submitted path as a clean relative path with `/` separators, or why it is refused: absolute
 * paths, drive letters, `..` segments and control characters would let a file land outside its tree.
 */
export function checkRelativePath(raw: string): PathCheck {
  const path = raw.replaceAll('\\', '/')
  if (path === '' || path.length > MAX_PATH_CHARS)
    return { ok: false, reason: `the path is empty or longer than ${MAX_PATH_CHARS} characters` }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse.
  if (/[\u0000-\u001f\u007f]/.test(path)) return { ok: false, reason: 'the path contains control characters' }
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path))
    return { ok: false, reason: 'the path is absolute: it would escape the submission tree' }
  const parts = path.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.includes('..'))
    return { ok: false, reason: 'the path contains "..": it would escape the submission tree' }
  if (parts.length === 0) return { ok: false, reason: 'the path names no file' }
  // `./C:/x` is `C:/x` once the dots go: a drive letter anywhere is refused, not only at the start.
  if (parts.some((p) => /^[A-Za-z]:/.test(p)))
    return { ok: false, reason: 'the path contains a drive letter: it would escape the submission tree' }
  return { ok: true, path: parts.join('/') }
}

/**
 * The path as it may appear in lists, errors and logs. SS-MIX2 paths carry the hospital's patient ID
 * in the file name and in the folders `<ID[0:3]>/<ID[3:6]>/<ID>`: it is masked wherever either shows
 * it, so a file whose name is malformed does not give the ID away through its folders. Other names
 * are shown with long digit runs masked, since hospitals sometimes name files after a patient or
 * insurance number.
 */
export function displayPath(path: string): string {
  const parts = path.split('/')
  const ids = new Set<string>()
  const storage = parseStorageFileName(parts.at(-1) ?? '')
  if (storage && storage.patientId !== '') ids.add(storage.patientId)
  const prefixFolders = new Set<number>()
  for (let i = 2; i < parts.length - 1; i++) {
    const [first, second, id] = [parts[i - 2] as string, parts[i - 1] as string, parts[i] as string]
    if (first !== '' && id.length > 3 && id.slice(0, 3) === first && id.slice(3, 6) === second) {
      ids.add(id)
      prefixFolders.add(i - 2).add(i - 1)
    }
  }
  if (ids.size === 0) return path.replace(/\d{6,}/g, (digits) => '*'.repeat(digits.length))
  return parts
    .map((part, i) => {
      if (ids.has(part)) return '{patient}'
      if (prefixFolders.has(i)) return '*'
      let shown = part
      for (const id of ids) shown = shown.replaceAll(id, '{patient}')
      return shown
    })
    .join('/')
}

export interface Detected {
  readonly format: ItemFormat
  /** The data category of the receipt (受領記録): the SS-MIX2 data type, else the format. */
  readonly category: string
}

/** Which reader a file needs, from its name and first bytes; undefined when none fits. */
export function detectFormat(
  path: string,
  bytes: Uint8Array,
  declared: ItemFormat | 'auto',
): Detected | undefined {
  const fileName = (path.split('/').at(-1) ?? path).toLowerCase()
  const storage = parseStorageFileName(path.split('/').at(-1) ?? path)
  const isDicom =
    fileName.endsWith('.dcm') ||
    (bytes.length > 132 &&
      bytes[128] === 0x44 &&
      bytes[129] === 0x49 &&
      bytes[130] === 0x43 &&
      bytes[131] === 0x4d)
  const isUke = fileName.endsWith('.uke') || (bytes[0] === 0x49 && bytes[1] === 0x52 && bytes[2] === 0x2c)
  const isFhir = /\.(ndjson|jsonl|json)$/.test(fileName)
  const format: ItemFormat | undefined =
    declared !== 'auto'
      ? declared
      : storage
        ? 'ssmix2'
        : isDicom
          ? 'dicom'
          : isUke
            ? 'uke'
            : isFhir
              ? 'fhir'
              : undefined
  if (!format) return undefined
  return { format, category: format === 'ssmix2' && storage ? storage.dataType : format }
}

export type Inflated =
  | { readonly ok: true; readonly path: string; readonly bytes: Uint8Array; readonly compressed: boolean }
  | { readonly ok: false; readonly reason: string; readonly code: string }

/**
 * Undoes gzip (a `.gz` name or the gzip magic bytes) within the size limit, so that a compression
 * bomb stops at `maxBytes` instead of filling memory. Plain files are checked against the same limit.
 */
export function inflateFile(path: string, bytes: Uint8Array, maxBytes: number): Inflated {
  const gzip = bytes[0] === 0x1f && bytes[1] === 0x8b
  if (!gzip) {
    if (bytes.length > maxBytes)
      return {
        ok: false,
        code: 'intake.too_large',
        reason: `the file is larger than the ${maxBytes}-byte limit`,
      }
    return { ok: true, path, bytes, compressed: false }
  }
  try {
    const inflated = gunzipSync(bytes, { maxOutputLength: maxBytes })
    return { ok: true, path: path.replace(/\.gz$/i, ''), bytes: inflated, compressed: true }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      return {
        ok: false,
        code: 'intake.compression_bomb',
        reason: `the gzip data expands beyond the ${maxBytes}-byte limit (a compression bomb?)`,
      }
    }
    return { ok: false, code: 'intake.bad_gzip', reason: 'the gzip data is corrupt or truncated' }
  }
}
