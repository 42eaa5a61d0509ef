import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { tokumeiErrorOf } from '../../../test/support/errors.js'
import { TokumeiError } from '../../model/index.js'
import {
  type CipherContext,
  deriveKey,
  ed25519FromSeed,
  hmac,
  open,
  seal,
  unwrapDataKey,
  wrapDataKey,
} from './envelope.js'

const key = randomBytes(32)
const ctx: CipherContext = { table: 'identity.patient', column: 'name_enc', row: 42 }

describe('envelope encryption (AES-256-GCM with associated data)', () => {
  it('round-trips any bytes in any context', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        fc.string(),
        fc.string(),
        fc.oneof(fc.integer(), fc.string()),
        (plain, table, column, row) => {
          const c = { table, column, row }
          expect(open(key, 'identity', seal(key, 1, 'identity', plain, c), c)).toEqual(Buffer.from(plain))
        },
      ),
    )
  })

  it('does not leak the plaintext and never repeats a ciphertext', () => {
    const plain = Buffer.from('山田太郎 canary 090-1234-5678')
    const a = seal(key, 1, 'identity', plain, ctx)
    const b = seal(key, 1, 'identity', plain, ctx)
    expect(a.includes(plain)).toBe(false)
    expect(a.equals(b)).toBe(false)
  })

  it('fails with a clear error under the wrong key', () => {
    const sealed = seal(key, 1, 'identity', Buffer.from('x'), ctx)
    const error = tokumeiErrorOf(() => open(randomBytes(32), 'identity', sealed, ctx))
    expect(error.code).toBe('crypto.decrypt_failed')
    expect(error.message).toBe(
      'Cannot decrypt identity.patient.name_enc of row 42: it does not authenticate under data key "identity" v1: it was altered, moved from another row or column, or sealed with another key.',
    )
  })

  it('fails when the value is moved to another table, column, row or purpose', () => {
    const sealed = seal(key, 1, 'identity', Buffer.from('x'), ctx)
    for (const moved of [
      { ...ctx, table: 'identity.other' },
      { ...ctx, column: 'address_enc' },
      { ...ctx, row: 43 },
    ]) {
      expect(tokumeiErrorOf(() => open(key, 'identity', sealed, moved)).code).toBe('crypto.decrypt_failed')
    }
    expect(tokumeiErrorOf(() => open(key, 'documents', sealed, ctx)).code).toBe('crypto.decrypt_failed')
  })

  it('fails when any single bit of the ciphertext is flipped', () => {
    const sealed = seal(key, 1, 'identity', Buffer.from('a short secret value'), ctx)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: sealed.length * 8 - 1 }), (bit) => {
        const tampered = Buffer.from(sealed)
        tampered[bit >> 3] = (tampered[bit >> 3] as number) ^ (1 << (bit & 7))
        expect(tokumeiErrorOf(() => open(key, 'identity', tampered, ctx)).code).toBe('crypto.decrypt_failed')
      }),
      { numRuns: sealed.length * 8 },
    )
  })

  it('refuses truncated input as not a ciphertext', () => {
    const error = tokumeiErrorOf(() => open(key, 'identity', Buffer.from([1, 0, 0]), ctx))
    expect(error.message).toContain('it is not a tokumei ciphertext')
  })

  it('wraps data keys bound to purpose and version', () => {
    const kek = randomBytes(32)
    const dataKey = randomBytes(32)
    const wrapped = wrapDataKey(kek, 'identity', 1, dataKey)
    expect(unwrapDataKey(kek, 'identity', 1, wrapped)).toEqual(dataKey)
    expect(() => unwrapDataKey(kek, 'identity', 2, wrapped)).toThrow(/does not open data key "identity" v2/)
    expect(() => unwrapDataKey(kek, 'spool', 1, wrapped)).toThrow(TokumeiError)
    expect(() => unwrapDataKey(randomBytes(32), 'identity', 1, wrapped)).toThrow(TokumeiError)
  })
})

describe('keyed hashes and signing keys', () => {
  it('derives independent keys per purpose, deterministically', () => {
    const root = randomBytes(32)
    expect(deriveKey(root, 'a')).toEqual(deriveKey(root, 'a'))
    expect(deriveKey(root, 'a')).not.toEqual(deriveKey(root, 'b'))
    expect(hmac(deriveKey(root, 'a'), '渡辺')).not.toEqual(hmac(deriveKey(root, 'b'), '渡辺'))
    expect(hmac(deriveKey(root, 'a'), '渡辺')).toEqual(hmac(deriveKey(root, 'a'), '渡辺'))
  })

  it('makes the same Ed25519 key from the same seed', () => {
    const seed = randomBytes(32)
    expect(ed25519FromSeed(seed).publicKeyRaw).toEqual(ed25519FromSeed(seed).publicKeyRaw)
    expect(ed25519FromSeed(seed).publicKeyRaw).toHaveLength(32)
  })
})
