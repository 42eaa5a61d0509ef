import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hashPassword, oneTimePassword, verifyPassword } from './passwords.js'

describe('passwords', () => {
  it('hashes with argon2id and verifies only the right password', async () => {
    const hash = await hashPassword('正しいパスワード')
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=1\$/)
    expect(hash).not.toContain('正しいパスワード')
    expect(await verifyPassword(hash, '正しいパスワード')).toBe(true)
    expect(await verifyPassword(hash, '正しいパスワート')).toBe(false)
    expect(await verifyPassword('not a hash', 'x')).toBe(false)
  })

  it('makes one-time passwords from the unambiguous alphabet', () => {
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 64 }), (length) => {
        expect(oneTimePassword(length)).toMatch(new RegExp(`^[a-km-zA-HJ-NP-Z2-9]{${length}}$`))
      }),
    )
  })
})
