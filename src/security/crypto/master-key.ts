import { createHash, randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs'
import { dirname } from 'node:path'
import { TokumeiError } from '../../model/index.js'

/**
 * The key-encryption key (KEK). It never enters the database: it lives in a mode-0600 file on the
 * host (created by `tokumei init`) or in TOKUMEI_MASTER_KEY, and only wraps the data keys.
 */
export interface MasterKey {
  readonly key: Buffer
  /** A short public fingerprint that names the key in the keyring without revealing it. */
  readonly id: string
  readonly source: 'file' | 'env'
  readonly file: string | undefined
}

export const KEY_BYTES = 32

export function masterKeyId(key: Uint8Array): string {
  return createHash('sha256').update('tokumei/kek-id/v1').update(key).digest('hex').slice(0, 16)
}

export function generateMasterKey(): Buffer {
  return randomBytes(KEY_BYTES)
}

function decode(text: string, where: string): Buffer {
  const trimmed = text.trim()
  const key = /^[A-Za-z0-9+/]{43}=$/.test(trimmed) ? Buffer.from(trimmed, 'base64') : undefined
  if (!key || key.length !== KEY_BYTES) {
    throw new TokumeiError(
      `The master key in ${where} is not 32 bytes of base64 (44 characters ending in "="): restore the right key.`,
      { code: 'crypto.bad_master_key', kind: 'invalid' },
    )
  }
  return key
}

export interface MasterKeySettings {
  readonly file: string
  readonly value: string | undefined
}

/** Reads the KEK from the environment value, else from the file (which must be private to its owner). */
export function readMasterKey(settings: MasterKeySettings): MasterKey {
  if (settings.value) {
    const key = decode(settings.value, 'TOKUMEI_MASTER_KEY')
    return { key, id: masterKeyId(key), source: 'env', file: undefined }
  }
  if (!existsSync(settings.file)) {
    throw new TokumeiError(
      `The master key file ${settings.file} does not exist: run \`tokumei init\`, or set TOKUMEI_MASTER_KEY_FILE or TOKUMEI_MASTER_KEY.`,
      { code: 'crypto.no_master_key', kind: 'unavailable' },
    )
  }
  const mode = statSync(settings.file).mode & 0o777
  if ((mode & 0o077) !== 0) {
    throw new TokumeiError(
      `The master key file ${settings.file} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}): run \`chmod 600 ${settings.file}\`.`,
      { code: 'crypto.master_key_exposed', kind: 'invalid' },
    )
  }
  const key = decode(readFileSync(settings.file, 'utf8'), settings.file)
  return { key, id: masterKeyId(key), source: 'file', file: settings.file }
}

/** Writes a key file durably with mode 0600; refuses to overwrite unless `replace` is set. */
export function writeKeyFile(file: string, key: Uint8Array, options: { replace?: boolean } = {}): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const target = options.replace ? `${file}.tmp-${process.pid}` : file
  const fd = openSync(target, options.replace ? 'w' : 'wx', 0o600)
  try {
    writeSync(fd, `${Buffer.from(key).toString('base64')}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  if (options.replace) renameSync(target, file)
}
