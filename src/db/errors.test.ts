import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TokumeiError } from '../model/index.js'
import { fromDatabaseError } from './errors.js'

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code })

describe('fromDatabaseError', () => {
  it('maps permission denied, lost connections and exhaustion by SQLSTATE', () => {
    const denied = fromDatabaseError(pgError('42501', 'permission denied for table probe'))
    expect(denied).toBeInstanceOf(TokumeiError)
    expect((denied as TokumeiError).kind).toBe('forbidden')
    expect((fromDatabaseError(pgError('08006', 'x')) as TokumeiError).kind).toBe('unavailable')
    expect((fromDatabaseError(pgError('57P01', 'x')) as TokumeiError).kind).toBe('unavailable')
    expect((fromDatabaseError(pgError('53100', 'x')) as TokumeiError).kind).toBe('unavailable')
    expect((fromDatabaseError(pgError('40001', 'x')) as TokumeiError).kind).toBe('conflict')
  })

  it('leaves other errors as they are', () => {
    const unique = pgError('23505', 'duplicate key')
    expect(fromDatabaseError(unique)).toBe(unique)
    const plain = new Error('x')
    expect(fromDatabaseError(plain)).toBe(plain)
    expect(fromDatabaseError(undefined)).toBeUndefined()
    const node = Object.assign(new Error('x'), { code: 'ECONNRESET' })
    expect(fromDatabaseError(node)).toBe(node)
  })

  it('never passes on the server message, which can quote row values', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('42501', '08000', '08006', '53200', '40P01'),
        // A marker makes the value unmistakable: a bare "ref" also occurs in our own sentences.
        fc.string({ minLength: 3 }).map((s) => `⟦${s}⟧`),
        (code, value) => {
          const mapped = fromDatabaseError(pgError(code, `Key (name)=(${value}) failed`)) as TokumeiError
          expect(mapped.message).not.toContain(value)
          expect(JSON.stringify(mapped.toJSON())).not.toContain(value)
        },
      ),
    )
  })
})
