import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkRelativePath, displayPath, inflateFile } from './files.js'

const patientId = fc.stringMatching(/^[0-9A-Z]{4,15}$/)

describe('displayPath', () => {
  it('never shows an SS-MIX2 patient ID, from the file name or from the folders', () => {
    fc.assert(
      fc.property(patientId, fc.boolean(), (id, wellFormed) => {
        const folder = `${id.slice(0, 3)}/${id.slice(3, 6)}/${id}/20240101/OMP-01`
        const name = wellFormed
          ? `${id}_20240101_OMP-01_123456789012345_20240101093000000_01_1`
          : 'broken-name'
        const shown = displayPath(`ssmix2/${folder}/${name}`)
        expect(shown).not.toContain(id)
        expect(shown).toContain('{patient}')
      }),
    )
  })

  it('masks long digit runs in other names and keeps the rest', () => {
    expect(displayPath('dicom/0012345678.dcm')).toBe('dicom/**********.dcm')
    expect(displayPath('fhir/Patient.ndjson')).toBe('fhir/Patient.ndjson')
  })
})

describe('checkRelativePath', () => {
  it('never lets a path out of the tree', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', '..', '.', '', '/', '\\', 'C:', 'b.txt'), { maxLength: 8 }),
        (pieces) => {
          const result = checkRelativePath(pieces.join('/'))
          if (result.ok) {
            expect(result.path.startsWith('/')).toBe(false)
            expect(result.path.split('/')).not.toContain('..')
            expect(/^[A-Za-z]:/.test(result.path)).toBe(false)
          }
        },
      ),
    )
  })
})

describe('inflateFile', () => {
  it('stops a gzip bomb at the limit and passes a small gzip through', () => {
    expect(inflateFile('x.gz', gzipSync(Buffer.alloc(10_000)), 1000)).toMatchObject({
      ok: false,
      code: 'intake.compression_bomb',
    })
    expect(inflateFile('x.ndjson.gz', gzipSync(Buffer.from('{}')), 1000)).toMatchObject({
      ok: true,
      path: 'x.ndjson',
    })
  })
})
