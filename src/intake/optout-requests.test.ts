import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { tokumeiErrorOf } from '../../test/support/errors.js'
import { normalizePatientId, normalizeReceipt } from './optout-requests.js'

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const RECEIPT = /^OR-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/
const receipts = fc
  .array(fc.constantFrom(...ALPHABET), { minLength: 12, maxLength: 12 })
  .map((c) => `OR-${c.slice(0, 4).join('')}-${c.slice(4, 8).join('')}-${c.slice(8).join('')}`)
/** ASCII → full-width (U+FF01…), as an IME may type it. */
const fullWidth = (text: string) =>
  text.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))

describe('normalizeReceipt', () => {
  it('reads a receipt back however a person types it: lower case, full-width, without hyphens, with spaces', () => {
    fc.assert(
      fc.property(receipts, fc.constantFrom('lower', 'full', 'bare', 'spaced'), (receipt, form) => {
        const typed =
          form === 'lower'
            ? receipt.toLowerCase()
            : form === 'full'
              ? fullWidth(receipt)
              : form === 'bare'
                ? receipt.replaceAll('-', '')
                : ` ${receipt.replaceAll('-', ' ')} `
        expect(normalizeReceipt(typed)).toBe(receipt)
      }),
    )
  })

  it('answers a receipt or nothing, never a malformed one', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const read = normalizeReceipt(text)
        if (read !== undefined) expect(read).toMatch(RECEIPT)
      }),
    )
    // Letters Crockford's alphabet leaves out (I, L, O, U) are not read as digits.
    expect(normalizeReceipt('OR-IIII-0000-0000')).toBeUndefined()
    expect(normalizeReceipt('OR-0000-0000-000')).toBeUndefined()
  })
})

describe('normalizePatientId', () => {
  it('folds full-width digits and letters and trims, keeping the ID otherwise as typed', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9A-Za-z]{1,20}$/), (id) => {
        expect(normalizePatientId(` ${fullWidth(id)}\u3000`)).toBe(id)
      }),
    )
  })

  it('refuses an empty ID, one with spaces or control characters inside, and one too long', () => {
    for (const bad of ['', '   ', '12 34', '12\u300034', '12\t34', 'x'.repeat(65)])
      expect(tokumeiErrorOf(() => normalizePatientId(bad)).code).toBe('optout.bad_patient_id')
  })
})
