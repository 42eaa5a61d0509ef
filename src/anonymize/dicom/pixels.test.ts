import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readDicom, writeDicom } from '../../../test/support/dicom.js'
import { listFiles, sharedData, useSyntheticData } from '../../../test/support/files.js'
import { deidentifyDicom } from './deid.js'
import { type BurnedInRule, blankRegions, type PixelLayout, type Region } from './pixels.js'
import { readBurnedInRules } from './rules-file.js'
import { deidentifyTree } from './tree.js'

const KEY = Buffer.alloc(32, 5)
type Dataset = Record<string, { vr: string; Value?: unknown[] }>
const samples = (name: string) =>
  sharedData('dicom', 'pydicom_pydicom', 'src', 'pydicom', 'data', 'test_files', name)

const read = readDicom

const pixelsOf = (dataset: Dataset) =>
  Buffer.concat(((dataset['7FE00010']?.Value ?? []) as ArrayBuffer[]).map((b) => new Uint8Array(b)))

/** Where byte `i` of native pixel data lies: frame, sample, row, column (decoded, not computed forwards). */
function locate(i: number, l: PixelLayout) {
  const bytes = l.bitsAllocated / 8
  const frameBytes = l.rows * l.columns * l.samplesPerPixel * bytes
  const frame = Math.floor(i / frameBytes)
  const pixel = Math.floor((i % frameBytes) / bytes)
  if (l.samplesPerPixel > 1 && l.planarConfiguration === 1) {
    const plane = l.rows * l.columns
    return { frame, x: (pixel % plane) % l.columns, y: Math.floor((pixel % plane) / l.columns) }
  }
  const at = Math.floor(pixel / l.samplesPerPixel)
  return { frame, x: at % l.columns, y: Math.floor(at / l.columns) }
}

const inside = (x: number, y: number, regions: readonly Region[]) =>
  regions.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height)

/** An ultrasound object with burned-in text, native 8-bit RGB, two frames, written by dcmjs. */
function ultrasound(): Uint8Array {
  const [rows, columns] = [12, 16]
  const pixels = new Uint8Array(rows * columns * 3 * 2).map((_, i) => 1 + (i % 250))
  return writeDicom({
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.3.1'] },
    '00080018': { vr: 'UI', Value: ['1.2.3.9'] },
    '00080060': { vr: 'CS', Value: ['US'] },
    '00080070': { vr: 'LO', Value: ['ACME Medical Systems'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'CANARY^PATIENT' }] },
    '00280002': { vr: 'US', Value: [3] },
    '00280004': { vr: 'CS', Value: ['RGB'] },
    '00280006': { vr: 'US', Value: [0] },
    '00280008': { vr: 'IS', Value: ['2'] },
    '00280010': { vr: 'US', Value: [rows] },
    '00280011': { vr: 'US', Value: [columns] },
    '00280100': { vr: 'US', Value: [8] },
    '00280101': { vr: 'US', Value: [8] },
    '00280301': { vr: 'CS', Value: ['YES'] },
    '7FE00010': { vr: 'OB', Value: [pixels.buffer] },
  })
}

const header: BurnedInRule = {
  name: 'ACME header band',
  match: { modality: 'us', manufacturer: 'acme' },
  regions: [
    { x: 0, y: 0, width: 16, height: 3 },
    { x: 10, y: 9, width: 100, height: 100 },
  ],
}

describe('burned-in text blanked where a rule says it is', () => {
  it('zeroes every byte inside the regions, in every frame and sample, and no byte outside (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          rows: fc.integer({ min: 1, max: 9 }),
          columns: fc.integer({ min: 1, max: 9 }),
          samplesPerPixel: fc.constantFrom(1, 3),
          bitsAllocated: fc.constantFrom(8, 16, 32),
          planarConfiguration: fc.constantFrom(0, 1),
          frames: fc.integer({ min: 1, max: 3 }),
          photometric: fc.constant('MONOCHROME2'),
        }),
        fc.array(
          fc.record({
            x: fc.nat(12),
            y: fc.nat(12),
            width: fc.integer({ min: 1, max: 12 }),
            height: fc.integer({ min: 1, max: 12 }),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        (layout, regions) => {
          const size = layout.rows * layout.columns * layout.samplesPerPixel * (layout.bitsAllocated / 8)
          const before = new Uint8Array(size * layout.frames).map((_, i) => 1 + (i % 255))
          const after = before.slice()
          const why = blankRegions(after, layout, regions)
          const visible = regions.some((r) => r.x < layout.columns && r.y < layout.rows)
          if (!visible) {
            expect(why).toMatch(/outside/)
            return
          }
          expect(why).toBeUndefined()
          for (let i = 0; i < after.length; i++) {
            const { x, y } = locate(i, layout)
            expect(after[i]).toBe(inside(x, y, regions) ? 0 : before[i])
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('blanks an ultrasound image instead of withholding it, says so in the object, and keeps the rest of the pixels', () => {
    const input = ultrasound()
    expect(deidentifyDicom(input, { key: KEY }).status).toBe('withheld')
    for (const fastPath of [true, false]) {
      const outcome = deidentifyDicom(input, { key: KEY, burnedInRules: [header], fastPath })
      if (outcome.status !== 'deidentified') throw new Error(`withheld: ${outcome.reason}`)
      expect(outcome.pixelsCleaned).toBe(true)
      const out = read(outcome.bytes)
      const before = pixelsOf(read(input))
      const after = pixelsOf(out)
      const layout: PixelLayout = {
        rows: 12,
        columns: 16,
        samplesPerPixel: 3,
        bitsAllocated: 8,
        planarConfiguration: 0,
        frames: 2,
        photometric: 'RGB',
      }
      expect(after.length).toBe(before.length)
      let zeroed = 0
      for (let i = 0; i < after.length; i++) {
        const { x, y } = locate(i, layout)
        if (inside(x, y, header.regions)) {
          expect(after[i]).toBe(0)
          zeroed++
        } else expect(after[i]).toBe(before[i])
      }
      // Two frames × (16×3 + 6×3 clipped pixels) × 3 samples.
      expect(zeroed).toBe(2 * (16 * 3 + 6 * 3) * 3)
      expect(out['00280301']?.Value).toEqual(['NO'])
      const codes = ((out['00120064']?.Value ?? []) as Dataset[]).map((item) => item['00080100']?.Value?.[0])
      expect(codes).toContain('113101')
      expect(Buffer.from(outcome.bytes).toString('latin1')).not.toContain('CANARY')
    }
  })

  it('gives the same blanked pixels for a little-endian file (own reader) and its big-endian twin (dcmjs)', () => {
    const rule: BurnedInRule = {
      match: { rows: 3, columns: 3 },
      regions: [{ x: 1, y: 0, width: 2, height: 2 }],
    }
    const little = deidentifyDicom(readFileSync(samples('SC_rgb_small_odd.dcm')), {
      key: KEY,
      burnedInRules: [rule],
    })
    const big = deidentifyDicom(readFileSync(samples('SC_rgb_small_odd_big_endian.dcm')), {
      key: KEY,
      burnedInRules: [rule],
    })
    if (little.status !== 'deidentified' || big.status !== 'deidentified') throw new Error('withheld')
    // dcmjs gives a big-endian OW value in the file's byte order: swapped pairs of 8-bit samples.
    const [a, b] = [pixelsOf(read(little.bytes)), pixelsOf(read(big.bytes)).swap16()]
    expect(a.length).toBeGreaterThanOrEqual(27)
    expect(a.subarray(0, 27)).toEqual(b.subarray(0, 27))
    // Pixels (1,0), (2,0), (1,1), (2,1) are zero, the others are not all zero.
    for (const [x, y] of [
      [1, 0],
      [2, 0],
      [1, 1],
      [2, 1],
    ] as const)
      expect([...a.subarray((y * 3 + x) * 3, (y * 3 + x) * 3 + 3)]).toEqual([0, 0, 0])
    expect([...a.subarray(0, 3), ...a.subarray(18, 27)].some((v) => v !== 0)).toBe(true)
  })

  it('withholds a compressed image a rule applies to, with the reason, and one no rule covers', () => {
    const rle = readFileSync(samples('SC_rgb_rle.dcm'))
    const ruled = deidentifyDicom(rle, {
      key: KEY,
      burnedInRules: [
        { match: { sopClass: '1.2.840.10008.5.1.4.1.1.7' }, regions: [{ x: 0, y: 0, width: 5, height: 5 }] },
      ],
    })
    expect(ruled).toEqual({
      status: 'withheld',
      reason: 'rule 1 applies, but compressed pixel data is not blanked',
    })
    const other = deidentifyDicom(ultrasound(), {
      key: KEY,
      burnedInRules: [
        { match: { manufacturer: 'Other Vendor' }, regions: [{ x: 0, y: 0, width: 1, height: 1 }] },
      ],
    })
    expect(other).toEqual({ status: 'withheld', reason: 'BurnedInAnnotation is YES' })
  })

  it('reads rules from YAML or JSON and names what is wrong in a bad file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokumei-regions-'))
    const good = join(dir, 'rules.yaml')
    writeFileSync(
      good,
      'rules:\n  - name: header\n    match: { modality: US, rows: 480 }\n    regions:\n      - { x: 0, y: 0, width: 640, height: 40 }\n',
    )
    expect(readBurnedInRules(good)).toEqual([
      {
        name: 'header',
        match: { modality: 'US', rows: 480 },
        regions: [{ x: 0, y: 0, width: 640, height: 40 }],
      },
    ])
    const cases: Array<[string, RegExp]> = [
      [
        '{"rules": [{"match": {}, "regions": [{"x": 0, "y": 0, "width": 1, "height": 1}]}]}',
        /rules\.0\.match: a rule must match/,
      ],
      [
        '{"rules": [{"match": {"modality": "US"}, "regions": [{"x": -1, "y": 0, "width": 1, "height": 1}]}]}',
        /rules\.0\.regions\.0\.x/,
      ],
      ['{"rules": [{"match": {"colour": "US"}, "regions": []}]}', /rules\.0\.match/],
      ['rules: [', /not YAML or JSON/],
    ]
    for (const [text, message] of cases) {
      const bad = join(dir, 'bad.json')
      writeFileSync(bad, text)
      expect(() => readBurnedInRules(bad)).toThrow(message)
      expect(() => readBurnedInRules(bad)).toThrow(bad)
    }
    expect(() => readBurnedInRules(join(dir, 'missing.yaml'))).toThrow(/cannot be read/)
  })

  const generate = useSyntheticData()

  it('blanks the synthetic hospitals’ burned-in text across a tree: nothing withheld, no text pixel left, dcmdump reads them', async () => {
    const { dir } = await generate({ persons: 40, hospitals: 2, seed: 'dicom-blank', formats: ['dicom'] })
    const plain = await deidentifyTree(dir, join(mkdtempSync(join(tmpdir(), 'tokumei-blank-')), 'out'), {
      key: KEY,
    })
    const burned = plain.withheld.length
    expect(burned).toBeGreaterThan(0)
    // The generator writes burned-in text as the first two rows of its 16×16 images (value 4000).
    const out = join(mkdtempSync(join(tmpdir(), 'tokumei-blank-')), 'out')
    const result = await deidentifyTree(dir, out, {
      key: KEY,
      burnedInRules: [
        { name: 'banner', match: { rows: 16, columns: 16 }, regions: [{ x: 0, y: 0, width: 16, height: 2 }] },
      ],
    })
    expect(result.withheld).toEqual([])
    expect(result.pixelsCleaned).toBe(plain.deidentified + burned)
    expect(result.deidentified).toBe(plain.deidentified + burned)
    const files = listFiles(out).filter((f) => f.endsWith('.dcm'))
    expect(files.length).toBe(result.deidentified)
    for (const file of files) {
      const dataset = read(readFileSync(join(out, file)))
      const pixels = new Uint16Array(new Uint8Array(pixelsOf(dataset)).buffer)
      expect(pixels.subarray(0, 32).every((v) => v === 0)).toBe(true)
      expect(pixels.includes(4000)).toBe(false)
      expect(dataset['00280301']?.Value).toEqual(['NO'])
    }
    if (spawnSync('dcmdump', ['--version']).status === 0 || process.env.CI) {
      const dump = spawnSync('dcmdump', ['-q', ...files.slice(0, 20).map((f) => join(out, f))], {
        encoding: 'utf8',
      })
      expect(dump.status, dump.stderr).toBe(0)
    }
  }, 60_000)
})
