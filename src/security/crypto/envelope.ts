import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto'
import { TokumeiError } from '../../model/index.js'

/**
 * The pure cryptography under the keyring: AES-256-GCM sealing with associated data, key wrapping,
 * HKDF-derived HMAC keys and Ed25519 keys. No I/O; every failure is a TokumeiError.
 */

const IV_BYTES = 12
const TAG_BYTES = 16
const FORMAT_V1 = 0x01
const HEADER_BYTES = 1 + 4 + IV_BYTES + TAG_BYTES

/** Where a ciphertext belongs. It is bound into the GCM tag, so a value moved elsewhere fails to open. */
export interface CipherContext {
  readonly table: string
  readonly column: string
  readonly row: string | number | bigint
}

const contextBytes = (purpose: string, context: CipherContext) =>
  Buffer.from(`tokumei/v1\0${purpose}\0${context.table}\0${context.column}\0${String(context.row)}`, 'utf8')

/**
 * Ciphertext layout: format (1 byte) ‖ data-key version (uint32 BE) ‖ IV (12) ‖ tag (16) ‖ ciphertext.
 * The header is authenticated too (it is part of the associated data).
 */
export function seal(
  key: Uint8Array,
  keyVersion: number,
  purpose: string,
  plaintext: Uint8Array,
  context: CipherContext,
): Buffer {
  const header = Buffer.alloc(5)
  header.writeUInt8(FORMAT_V1, 0)
  header.writeUInt32BE(keyVersion, 1)
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.concat([header, contextBytes(purpose, context)]))
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([header, iv, cipher.getAuthTag(), body])
}

/** The data-key version a ciphertext was sealed with, read from its header. */
export function sealedKeyVersion(ciphertext: Uint8Array, purpose: string, context: CipherContext): number {
  const buffer = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength)
  if (buffer.length < HEADER_BYTES || buffer.readUInt8(0) !== FORMAT_V1) {
    throw decryptFailed(purpose, context, 'it is not a tokumei ciphertext (bad header)')
  }
  return buffer.readUInt32BE(1)
}

export function open(
  key: Uint8Array,
  purpose: string,
  ciphertext: Uint8Array,
  context: CipherContext,
): Buffer {
  const version = sealedKeyVersion(ciphertext, purpose, context)
  const buffer = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength)
  const header = buffer.subarray(0, 5)
  const iv = buffer.subarray(5, 5 + IV_BYTES)
  const tag = buffer.subarray(5 + IV_BYTES, HEADER_BYTES)
  const decipher = createDecipheriv('aes-256-gcm', key, iv)
  decipher.setAAD(Buffer.concat([header, contextBytes(purpose, context)]))
  decipher.setAuthTag(tag)
  try {
    return Buffer.concat([decipher.update(buffer.subarray(HEADER_BYTES)), decipher.final()])
  } catch {
    throw decryptFailed(
      purpose,
      context,
      `it does not authenticate under data key "${purpose}" v${version}: it was altered, moved from another row or column, or sealed with another key`,
    )
  }
}

export function decryptFailed(purpose: string, context: CipherContext, why: string): TokumeiError {
  return new TokumeiError(
    `Cannot decrypt ${context.table}.${context.column} of row ${String(context.row)}: ${why}.`,
    {
      code: 'crypto.decrypt_failed',
      kind: 'check_failed',
      details: { purpose, table: context.table, column: context.column, row: String(context.row) },
    },
  )
}

const wrapContext = (purpose: string, version: number): CipherContext => ({
  table: 'keyring.data_key',
  column: 'wrapped',
  row: `${purpose}/${version}`,
})

/** Wraps a data key under the KEK, bound to its purpose and version. */
export function wrapDataKey(kek: Uint8Array, purpose: string, version: number, dataKey: Uint8Array): Buffer {
  return seal(kek, 0, 'kek', dataKey, wrapContext(purpose, version))
}

export function unwrapDataKey(
  kek: Uint8Array,
  purpose: string,
  version: number,
  wrapped: Uint8Array,
): Buffer {
  try {
    return open(kek, 'kek', wrapped, wrapContext(purpose, version))
  } catch {
    throw new TokumeiError(
      `The master key does not open data key "${purpose}" v${version}: the keyring row was altered or the master key is not the one that wrapped it.`,
      { code: 'crypto.unwrap_failed', kind: 'check_failed', details: { purpose, version } },
    )
  }
}

/** A 32-byte key for one purpose, derived from a root key with HKDF-SHA-256. */
export function deriveKey(root: Uint8Array, label: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', root, Buffer.from('tokumei/hkdf-salt/v1'), Buffer.from(label, 'utf8'), 32),
  )
}

export function hmac(key: Uint8Array, value: string | Uint8Array): Buffer {
  return createHmac('sha256', key).update(value).digest()
}

// RFC 8410: the PKCS#8 DER prefix of an Ed25519 private key, followed by the 32-byte seed.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

export interface SigningKeyPair {
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  /** Raw 32-byte public key. */
  readonly publicKeyRaw: Buffer
}

export function ed25519FromSeed(seed: Uint8Array): SigningKeyPair {
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  })
  const publicKey = createPublicKey(privateKey)
  const spki = publicKey.export({ format: 'der', type: 'spki' })
  return { privateKey, publicKey, publicKeyRaw: Buffer.from(spki.subarray(spki.length - 32)) }
}
