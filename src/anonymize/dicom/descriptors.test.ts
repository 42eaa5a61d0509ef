import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readDicom, writeDicom } from '../../../test/support/dicom.js'
import { listFiles, sharedData, useSyntheticData } from '../../../test/support/files.js'
import { loadTokenizer } from '../text/scrub.js'
import { charsetOf, decodeText, encodeText } from './charset.js'
import { deidentifyDicom } from './deid.js'
import { asciiOf, readPart10, writePart10 } from './part10.js'
import { deidentifyTree } from './tree.js'

const KEY = Buffer.alloc(32, 9)
const CLEAN = new Set(['clean-descriptors'] as const)
type Dataset = Record<string, { vr: string; Value?: unknown[] }>
const hasDcmdump = spawnSync('dcmdump', ['--version']).status === 0

const read = readDicom

/** A CT object in UTF-8 whose descriptors name the patient, a physician and a phone. */
function described(): Uint8Array {
  return writeDicom({
    '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
    '00080018': { vr: 'UI', Value: ['1.2.3.77'] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '00080080': { vr: 'LO', Value: ['ひかり総合病院'] },
    '00081030': { vr: 'LO', Value: ['頭部CT 黒柳徹子様 術後'] },
    '0008103E': { vr: 'LO', Value: ['Axial 2mm'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'KUROYANAGI^TETSUKO', Ideographic: '黒柳^徹子' }] },
    '00100020': { vr: 'LO', Value: ['P0778899'] },
    '00204000': { vr: 'LT', Value: ['黒柳徹子さん、連絡 090-1234-5678。ひかり総合病院より紹介、P0778899'] },
  })
}

describe('Clean Descriptors: descriptors scrubbed, not removed', () => {
  it('keeps the clinical words of a description and replaces the persons, phones and IDs in it, on both paths', async () => {
    const tokenizer = await loadTokenizer()
    for (const fastPath of [true, false]) {
      const outcome = deidentifyDicom(described(), { key: KEY, options: CLEAN, tokenizer, fastPath })
      if (outcome.status !== 'deidentified') throw new Error('withheld')
      const out = read(outcome.bytes)
      const study = String(out['00081030']?.Value?.[0])
      const comments = String(out['00204000']?.Value?.[0])
      expect(study).toBe('頭部CT ［氏名］様 術後')
      expect(out['0008103E']?.Value).toEqual(['Axial 2mm'])
      expect(comments).toContain('［氏名］さん')
      expect(comments).toContain('［電話］')
      expect(comments).toContain('［医療機関］より紹介')
      const text = Buffer.from(outcome.bytes).toString('utf8')
      for (const gone of ['黒柳', '徹子', '090-1234', 'P0778899', 'ひかり総合'])
        expect(text).not.toContain(gone)
      const codes = ((out['00120064']?.Value ?? []) as Dataset[]).map((i) => i['00080100']?.Value?.[0])
      expect(codes).toContain('113105')
    }
    // Without the option the descriptors are removed, as the basic profile says.
    const basic = deidentifyDicom(described(), { key: KEY })
    if (basic.status !== 'deidentified') throw new Error('withheld')
    expect(read(basic.bytes)['00081030']).toBeUndefined()
  })

  it('asks for the scrubber rather than quietly removing what it was asked to clean', () => {
    expect(() => deidentifyDicom(described(), { key: KEY, options: CLEAN })).toThrow(/loadTokenizer/)
  })

  it('writes a cleaned description back in ISO 2022 IR 87 that dcmdump reads, and finds the name from the object itself', async () => {
    const tokenizer = await loadTokenizer()
    const bytes = readFileSync(
      sharedData('dicom', 'pydicom_pydicom', 'src', 'pydicom', 'data', 'charset_files', 'chrH31.dcm'),
    )
    const file = readPart10(bytes)
    if (!file) throw new Error('not read')
    const charset = charsetOf(asciiOf(file.dataset.find((e) => e.tag === 0x00080005)?.value))
    if (!charset) throw new Error('charset')
    // 「やまだ」 alone is no name a dictionary knows: only the patient's own name finds it.
    const description = encodeText('胸部CT やまだ 再検', charset) as Uint8Array
    const input = writePart10({
      ...file,
      dataset: [
        ...file.dataset.filter((e) => e.tag !== 0x00081030),
        { tag: 0x00081030, vr: 'LO', value: description },
      ],
    })
    // A secondary capture: written anyway here, as only its header is in question.
    const outcome = deidentifyDicom(input, { key: KEY, options: CLEAN, tokenizer, withholdBurnedIn: false })
    if (outcome.status !== 'deidentified') throw new Error('withheld')
    const out = readPart10(outcome.bytes)
    const value = out?.dataset.find((e) => e.tag === 0x00081030)?.value
    expect(value && decodeText(value, charset)?.trimEnd()).toBe('胸部CT ［氏名］ 再検')
    if (hasDcmdump || process.env.CI === 'true') {
      const dir = mkdtempSync(join(tmpdir(), 'tokumei-desc-'))
      writeFileSync(join(dir, 'out.dcm'), outcome.bytes)
      // dcmdump prints values as their bytes (this dcmtk converts no ISO 2022 to UTF-8).
      const dump = spawnSync('dcmdump', ['-q', join(dir, 'out.dcm')], { encoding: 'latin1' })
      expect(dump.status, dump.stderr).toBe(0)
      const expected = Buffer.from(encodeText('胸部CT ［氏名］ 再検', charset) as Uint8Array)
        .toString('latin1')
        .trimEnd()
      expect(dump.stdout).toContain(`[${expected}]`)
    }
  })

  const generate = useSyntheticData()

  it('leaves no canary in the synthetic hospitals’ images while keeping their comments', async () => {
    const { dir } = await generate({ persons: 30, hospitals: 2, seed: 'dicom-clean', formats: ['dicom'] })
    const out = join(mkdtempSync(join(tmpdir(), 'tokumei-clean-')), 'out')
    const result = await deidentifyTree(dir, out, { key: KEY, options: CLEAN, withholdBurnedIn: false })
    expect(result.deidentified).toBeGreaterThan(10)
    const canaries = readFileSync(join(dir, 'truth', 'canaries.txt'), 'utf8')
      .split('\n')
      .filter((c) => c.length >= 2)
    let comments = 0
    for (const file of listFiles(out).filter((f) => f.endsWith('.dcm'))) {
      const bytes = readFileSync(join(out, file))
      const text = bytes.toString('utf8')
      for (const canary of canaries) expect(text.includes(canary), `${file} holds a canary`).toBe(false)
      const comment = read(bytes)['00204000']?.Value?.[0]
      if (typeof comment === 'string' && comment.startsWith('［氏名］様') && comment.endsWith('経過観察'))
        comments++
    }
    expect(comments).toBe(result.deidentified)
  }, 60_000)
})
