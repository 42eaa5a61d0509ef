import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type DicomDataset, readDicom, writeDicom } from '../../../test/support/dicom.js'
import { deidentifyDicom } from './deid.js'
import { readPrivateAllowList } from './rules-file.js'

const KEY = Buffer.alloc(32, 11)

/** A CT with private blocks of three creators; GEMS_ACQU_01 reserved two blocks (10 and 12). */
function withPrivate(): Uint8Array {
  return writeDicom({
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
    '00080018': { vr: 'UI', Value: ['1.2.3.55'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'CANARY^NAME' }] },
    '00190010': { vr: 'LO', Value: ['GEMS_ACQU_01'] },
    '00190011': { vr: 'LO', Value: ['OTHER_VENDOR'] },
    '00190012': { vr: 'LO', Value: ['GEMS_ACQU_01'] },
    '0019100C': { vr: 'DS', Value: ['2.5'] },
    '00191010': { vr: 'LO', Value: ['CANARY private note'] },
    '0019110C': { vr: 'LO', Value: ['CANARY other vendor'] },
    '0019120C': { vr: 'DS', Value: ['7.5'] },
    '00290010': { vr: 'LO', Value: ['SIEMENS CSA HEADER'] },
    '00291010': { vr: 'OB', Value: [new Uint8Array([67, 65, 78, 65, 82, 89]).buffer] },
  } as DicomDataset)
}

describe('private attributes kept by an allow-list', () => {
  it('keeps only the listed creator’s listed offset, in any block it reserved, with its creator; removes the rest', () => {
    const allowed = [{ creator: 'GEMS_ACQU_01', group: 0x0019, offset: 0x0c }]
    for (const fastPath of [true, false]) {
      const outcome = deidentifyDicom(withPrivate(), { key: KEY, privateAllowList: allowed, fastPath })
      if (outcome.status !== 'deidentified') throw new Error('withheld')
      const out = readDicom(outcome.bytes)
      const privateTags = Object.keys(out)
        .filter((t) => Number.parseInt(t.slice(0, 4), 16) % 2 === 1)
        .sort()
      expect(privateTags).toEqual(['00190010', '00190012', '0019100C', '0019120C'])
      expect(String(out['0019100C']?.Value?.[0])).toBe('2.5')
      expect(String(out['0019120C']?.Value?.[0])).toBe('7.5')
      expect(outcome.privateKept).toBe(4)
      expect(outcome.privateRemoved).toBe(5)
      expect(Buffer.from(outcome.bytes).toString('latin1')).not.toContain('CANARY')
      const codes = ((out['00120064']?.Value ?? []) as DicomDataset[]).map((i) => i['00080100']?.Value?.[0])
      expect(codes).toContain('113111')
    }
    // Without a list, nothing private survives.
    const none = deidentifyDicom(withPrivate(), { key: KEY })
    if (none.status !== 'deidentified') throw new Error('withheld')
    expect(Object.keys(readDicom(none.bytes)).some((t) => Number.parseInt(t.slice(0, 4), 16) % 2 === 1)).toBe(
      false,
    )
    expect(none.privateKept).toBe(0)
  })

  it('reads the list from YAML or JSON and says what is wrong in a bad one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokumei-private-'))
    const good = join(dir, 'keep.yaml')
    writeFileSync(good, 'keep:\n  - { creator: GEMS_ACQU_01, tag: "(0019,xx0C)", name: slice thickness }\n')
    expect(readPrivateAllowList(good)).toEqual([{ creator: 'GEMS_ACQU_01', group: 0x19, offset: 0x0c }])
    const cases: Array<[string, RegExp]> = [
      ['{"keep": [{"creator": "X", "tag": "0018,xx10"}]}', /keep\.0\.tag: a private tag has an odd group/],
      ['{"keep": [{"creator": "X", "tag": "0019,1010"}]}', /keep\.0\.tag: a tag is written gggg,xxee/],
      ['{"keep": []}', /keep/],
      ['keep: [', /not YAML or JSON/],
    ]
    for (const [text, message] of cases) {
      const bad = join(dir, 'bad.json')
      writeFileSync(bad, text)
      expect(() => readPrivateAllowList(bad)).toThrow(message)
    }
    expect(() => readPrivateAllowList(join(dir, 'missing.yaml'))).toThrow(/cannot be read/)
  })
})
