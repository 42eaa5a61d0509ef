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
  return { ok: true, path: parts.join('/') }
}

/**
 * The path as it may appear in lists, errors and logs. SS-MIX2 paths carry the hospital's patient ID
 * in folders and file name: it is masked. Other names are shown with long digit runs masked, since
 * hospitals sometimes name files after a patient or insurance number.
 */
export function displayPath(path: string): string {
  const fileName = path.split('/').at(-1) ?? path
  const storage = parseStorageFileName(fileName)
  if (storage && storage.patientId !== '') {
    const id = storage.patientId
    return path
      .split('/')
      .map((part) => {
        if (part === id) return '{patient}'
        if (part === id.slice(0, 3) || part === id.slice(3, 6)) return '*'
        return part.replaceAll(id, '{patient}')
      })
      .join('/')
  }
  return path.replace(/\d{6,}/g, (digits) => '*'.repeat(digits.length))
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
