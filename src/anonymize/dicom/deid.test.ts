import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import dcmjs from 'dcmjs'
import { describe, expect, it } from 'vitest'
import { readDicom, writeDicom } from '../../../test/support/dicom.js'
import { listFiles, sharedData, useSyntheticData } from '../../../test/support/files.js'
import { dateOffset } from '../transform/transform.js'
import { resolveAction } from './actions.js'
import { deidentifyDicom, replacementUid } from './deid.js'
import { PROFILE } from './profile.js'
import { deidentifyTree } from './tree.js'

const KEY = Buffer.alloc(32, 3)
const hasDcmdump = spawnSync('dcmdump', ['--version']).status === 0
type Element = { vr: string; Value?: unknown[] }
type Dataset = Record<string, Element>

const { DicomMetaDictionary } = dcmjs.data

const write = writeDicom

/** An element's values without the empty strings dcmjs reads a zero-length value as. */
const nonEmpty = (element: Element | undefined) =>
  (element?.Value ?? []).filter((v) => v !== '' && v !== null)

const read = readDicom

/** A value of each VR that a canary can be found in. */
function canaryValue(vr: string, tag: string): unknown {
  switch (vr) {
    case 'PN':
      return { Alphabetic: `CANARY^${tag}` }
    case 'DA':
      return '20200315'
    case 'TM':
      return '101500'
    case 'DT':
      return '20200315101500'
    case 'UI':
      return `1.2.392.${Number.parseInt(tag, 16)}`
    case 'AS':
      return '045Y'
    case 'US':
    case 'SS':
    case 'UL':
    case 'SL':
    case 'FL':
    case 'FD':
      return 7
    case 'IS':
    case 'DS':
      return '7'
    case 'CS':
      return `CANARY${tag.slice(4)}`
    default:
      return `CANARY ${tag}`
  }
}

/** Every exact tag of Table E.1-1 that dcmjs's dictionary knows, with its VR. */
function tableAttributes(): Array<{ tag: string; vr: string; basic: string }> {
  const dictionary = DicomMetaDictionary.dictionary as Record<string, { vr: string } | undefined>
  const out: Array<{ tag: string; vr: string; basic: string }> = []
  for (const [tag, , basic] of PROFILE) {
    if (!/^[0-9a-f]{8}$/.test(tag) || tag.startsWith('0002')) continue
    const entry = dictionary[`(${tag.slice(0, 4).toUpperCase()},${tag.slice(4).toUpperCase()})`]
    const vr = entry?.vr?.split('|')[0] ?? ''
    if (!vr || vr === 'OB' || vr === 'OW' || vr === 'OF' || vr === 'UN' || vr === 'AT' || vr.includes(' '))
      continue
    out.push({ tag: tag.toUpperCase(), vr, basic })
  }
  return out
}

function tableDataset(): Dataset {
  const dataset: Dataset = {}
  for (const { tag, vr } of tableAttributes())
    dataset[tag] =
      vr === 'SQ'
        ? { vr, Value: [{ '00100010': { vr: 'PN', Value: [{ Alphabetic: `CANARY^IN-${tag}` }] } }] }
        : { vr, Value: [canaryValue(vr, tag)] }
  dataset['00080016'] = { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] }
  dataset['00080018'] = { vr: 'UI', Value: ['1.2.3.4.5.6.7'] }
  dataset['00100020'] = { vr: 'LO', Value: ['CANARY-PID-001'] }
  return dataset
}

describe('the Basic Application Level Confidentiality Profile', () => {
  it('gives every attribute of Table E.1-1 its action, at the top and inside sequences', () => {
    const attributes = tableAttributes()
    // Nearly all of the 621 rows are exact tags dcmjs knows.
    expect(attributes.length).toBeGreaterThan(500)
    const outcome = deidentifyDicom(write(tableDataset()), { key: KEY })
    expect(outcome.status).toBe('deidentified')
    if (outcome.status !== 'deidentified') return
    const out = read(outcome.bytes)
    for (const { tag, vr, basic } of attributes) {
      const element = out[tag]
      const action = resolveAction(basic as Parameters<typeof resolveAction>[0])
      const original = canaryValue(vr, tag)
      const values = JSON.stringify(element?.Value ?? [])
      if (tag === '00120062' || tag === '00120063' || tag === '00120064' || tag === '00280303') continue
      switch (action) {
        case 'X':
        case 'C':
          expect(element, `${tag} (${basic}) should be gone`).toBeUndefined()
          break
        case 'Z':
          expect(nonEmpty(element), `${tag} (${basic}) should be empty`).toEqual([])
          break
        case 'D':
          expect(values, `${tag} (${basic}) should hold a dummy`).not.toContain('CANARY')
          break
        case 'U':
          if (vr === 'UI') expect(String(element?.Value?.[0]), tag).toMatch(/^2\.25\.\d+$/)
          else expect(values, tag).not.toContain('CANARY')
          break
        case 'K':
          if (vr !== 'SQ')
            expect(values, `${tag} kept`).toContain(JSON.stringify(original).replaceAll('"', ''))
          break
      }
    }
    // No canary anywhere in the written bytes, whatever the attribute.
    expect(Buffer.from(outcome.bytes).toString('latin1')).not.toMatch(/CANARY/)
    expect(out['00120062']?.Value).toEqual(['YES'])
    expect(JSON.stringify(out['00120064']?.Value)).toContain('113100')
  })

  it('applies the options: modified dates, patient characteristics, device identity, UIDs', () => {
    const dataset: Dataset = {
      '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
      '00080018': { vr: 'UI', Value: ['1.2.3.4.5.6.7'] },
      '0020000D': { vr: 'UI', Value: ['1.2.3.4.5'] },
      '00080020': { vr: 'DA', Value: ['20200315'] },
      '00080021': { vr: 'DA', Value: ['20200318'] },
      '00100040': { vr: 'CS', Value: ['F'] },
      '00181000': { vr: 'LO', Value: ['SN-12345'] },
      '00100020': { vr: 'LO', Value: ['P-9'] },
    }
    const run = (options: string[]) => {
      const outcome = deidentifyDicom(write(dataset), { key: KEY, options: new Set(options as never[]) })
      if (outcome.status !== 'deidentified') throw new Error('withheld')
      return read(outcome.bytes)
    }
    const basic = run([])
    expect(nonEmpty(basic['00080020'])).toEqual([])
    expect(nonEmpty(basic['00100040'])).toEqual([])
    expect(JSON.stringify(basic['00181000']?.Value ?? [])).not.toContain('SN-12345')
    const offset = dateOffset(KEY, 'dicom\u0000P-9', 365)
    const shifted = run([
      'retain-long-modified-dates',
      'retain-patient-characteristics',
      'retain-device-identity',
      'retain-uids',
    ])
    const day = (v: unknown) =>
      Date.parse(`${String(v).slice(0, 4)}-${String(v).slice(4, 6)}-${String(v).slice(6, 8)}`)
    expect((day(shifted['00080020']?.Value?.[0]) - Date.parse('2020-03-15')) / 86_400_000).toBe(offset)
    expect((day(shifted['00080021']?.Value?.[0]) - day(shifted['00080020']?.Value?.[0])) / 86_400_000).toBe(3)
    expect(shifted['00280303']?.Value).toEqual(['MODIFIED'])
    expect(shifted['00100040']?.Value).toEqual(['F'])
    expect(shifted['00181000']?.Value).toEqual(['SN-12345'])
    expect(shifted['0020000D']?.Value).toEqual(['1.2.3.4.5'])
    expect(() => run(['retain-long-full-dates', 'retain-long-modified-dates'])).toThrow(/exclude each other/)
  })

  it('replaces UIDs by the key: the same UID the same replacement, another key another', () => {
    expect(replacementUid(KEY, '1.2.3')).toBe(replacementUid(KEY, '1.2.3'))
    expect(replacementUid(KEY, '1.2.3')).not.toBe(replacementUid(KEY, '1.2.4'))
    expect(replacementUid(KEY, '1.2.3')).not.toBe(replacementUid(Buffer.alloc(32, 4), '1.2.3'))
    expect(replacementUid(KEY, '1.2.3').length).toBeLessThanOrEqual(64)
  })

  it('keeps the pixel data byte for byte and de-identifies a file already marked de-identified', () => {
    const pixels = new Uint16Array(64).map((_, i) => i * 37)
    const dataset: Dataset = {
      '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
      '00080018': { vr: 'UI', Value: ['1.2.3.4.5.6.7'] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'CANARY^NAME' }] },
      '00120062': { vr: 'CS', Value: ['YES'] },
      '00280010': { vr: 'US', Value: [8] },
      '00280011': { vr: 'US', Value: [8] },
      '00280100': { vr: 'US', Value: [16] },
      '7FE00010': { vr: 'OW', Value: [pixels.buffer] },
    }
    const outcome = deidentifyDicom(write(dataset), { key: KEY })
    if (outcome.status !== 'deidentified') throw new Error('withheld')
    const out = read(outcome.bytes)
    expect(new Uint8Array(out['7FE00010']?.Value?.[0] as ArrayBuffer)).toEqual(new Uint8Array(pixels.buffer))
    expect(Buffer.from(outcome.bytes).toString('latin1')).not.toContain('CANARY')
  })
})

describe('tokumei dicom deid on trees', () => {
  const generate = useSyntheticData()

  it('leaves no identifying string of the synthetic hospitals in any output file, and dcmdump reads them all', async () => {
    const { dir } = await generate({ persons: 30, hospitals: 2, seed: 'dicom-deid', formats: ['dicom'] })
    const out = mkdtempSync(join(tmpdir(), 'tk-dicom-out-'))
    // By default, objects that may show burned-in text are withheld for review …
    const withheld = await deidentifyTree(dir, join(out, 'default'), { key: KEY })
    expect(withheld.withheld.length).toBeGreaterThan(0)
    expect(withheld.withheld.every((w) => /burned|secondary|ultrasound/i.test(w.reason))).toBe(true)
    // … here they are all written, so that every header is checked.
    const result = await deidentifyTree(dir, join(out, 'released'), {
      key: KEY,
      options: new Set(['retain-long-modified-dates']),
      withholdBurnedIn: false,
    })
    expect(result.deidentified).toBeGreaterThan(10)
    expect(result.refused.filter((r) => !r.path.includes('truth'))).toEqual([])
    expect(result.privateRemoved).toBeGreaterThan(0)
    // Shared among two worker threads, the same files come out the same, byte for byte.
    const parallel = await deidentifyTree(
      dir,
      join(out, 'parallel'),
      { key: KEY, options: new Set(['retain-long-modified-dates']), withholdBurnedIn: false },
      undefined,
      2,
      1,
    )
    expect(parallel.deidentified).toBe(result.deidentified)
    for (const file of listFiles(join(out, 'released')).filter((f) => f.endsWith('.dcm')))
      expect(
        readFileSync(join(out, 'parallel', file)).equals(readFileSync(join(out, 'released', file))),
        file,
      ).toBe(true)
    const canaries = readFileSync(join(dir, 'truth', 'canaries.txt'), 'utf8')
      .split('\n')
      .filter((c) => c.length >= 4)
    const files = listFiles(join(out, 'released')).filter((f) => f.endsWith('.dcm'))
    expect(files.length).toBe(result.deidentified)
    for (const file of files) {
      const bytes = readFileSync(join(out, 'released', file))
      // In UTF-8 (the synthetic files' character set) and as Latin-1 bytes of it.
      const text = `${bytes.toString('utf8')}\n${bytes.toString('latin1')}`
      for (const canary of canaries) expect(text.includes(canary), `${file} holds a canary`).toBe(false)
    }
    // The study's objects still point at one study: the instances of one study share its new UID.
    const studies = readdirSync(join(out, 'released')).filter((d) => d.startsWith('2.25.'))
    expect(studies.length).toBeGreaterThan(0)
    if (hasDcmdump || process.env.CI === 'true') {
      const dump = execFileSync('dcmdump', ['-q', ...files.map((f) => join(out, 'released', f))], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      })
      expect(dump).not.toMatch(/^E: /m)
      expect(dump).toContain('PatientIdentityRemoved')
    }
  }, 60_000)

  it('refuses a DICOMDIR with its reason, on both paths (its records index the input’s own files)', () => {
    const dicomdir = writeDicom(
      {
        '00041130': { vr: 'CS', Value: ['CANARYSET'] },
        '00041220': {
          vr: 'SQ',
          Value: [
            {
              '00041430': { vr: 'CS', Value: ['PATIENT'] },
              '00100010': { vr: 'PN', Value: [{ Alphabetic: 'CANARY^PATIENT' }] },
              '00100020': { vr: 'LO', Value: ['CANARY-ID'] },
            },
          ],
        },
      },
      '1.2.840.10008.1.3.10',
    )
    for (const fastPath of [true, false])
      expect(() => deidentifyDicom(dicomdir, { key: KEY, fastPath })).toThrow(/DICOMDIR/)
  })

  it('writes the layout asked for: by series (default), by study, or flat, the same objects in each', async () => {
    const { dir } = await generate({ persons: 20, hospitals: 1, seed: 'dicom-layout', formats: ['dicom'] })
    const base = mkdtempSync(join(tmpdir(), 'tk-dicom-layout-'))
    const depth = { series: 3, study: 2, flat: 1 } as const
    const contents = new Map<string, string[]>()
    for (const layout of ['series', 'study', 'flat'] as const) {
      const out = join(base, layout)
      const result = await deidentifyTree(dir, out, { key: KEY, withholdBurnedIn: false, layout })
      const files = listFiles(out).filter((f) => f.endsWith('.dcm'))
      expect(files.length).toBe(result.deidentified)
      for (const file of files) expect(file.split('/').length, `${layout}: ${file}`).toBe(depth[layout])
      contents.set(layout, files.map((f) => readFileSync(join(out, f)).toString('base64')).sort())
    }
    expect(contents.get('flat')).toEqual(contents.get('series'))
    expect(contents.get('study')).toEqual(contents.get('series'))
  })

  it('refuses files dcmjs cannot read with a reason, and goes on with the rest', async () => {
    const input = mkdtempSync(join(tmpdir(), 'tk-dicom-in-'))
    writeFileSync(join(input, 'not-dicom.txt'), 'hello')
    const samples = sharedData('dicom', 'pydicom_pydicom', 'src', 'pydicom', 'data', 'test_files')
    for (const name of ['CT_small.dcm', 'MR_small.dcm', 'SC_rgb_jpeg.dcm'])
      try {
        writeFileSync(join(input, name), readFileSync(join(samples, name)))
      } catch {
        // Without the shared data the two synthetic cases remain.
      }
    writeFileSync(
      join(input, 'truncated.dcm'),
      Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from([2, 0, 1])]),
    )
    const result = await deidentifyTree(input, join(input, '..', `${input.split('/').at(-1)}-out`), {
      key: KEY,
    })
    const reasons = Object.fromEntries(result.refused.map((r) => [r.path, r.reason]))
    expect(reasons['not-dicom.txt']).toMatch(/not a DICOM Part 10 file/)
    expect(reasons['truncated.dcm']).toMatch(/dcmjs|parse/)
    expect(result.deidentified + result.withheld.length + result.refused.length).toBe(result.files)
  })

  it('gives the same objects by its own reader and writer as through dcmjs, keeping what it does not touch byte for byte', async () => {
    const { dir } = await generate({ persons: 12, hospitals: 1, seed: 'dicom-fast', formats: ['dicom'] })
    const samples = sharedData('dicom', 'pydicom_pydicom', 'src', 'pydicom', 'data', 'test_files')
    const files = [
      ...listFiles(dir)
        .filter((f) => f.endsWith('.dcm'))
        .map((f) => join(dir, f)),
      ...['CT_small.dcm', 'MR_small.dcm', 'MR_small_implicit.dcm', 'JPEG2000.dcm', 'MR_small_RLE.dcm'].map(
        (f) => join(samples, f),
      ),
    ].filter((f) => existsSync(f))
    // dcmjs re-encodes text as UTF-8 when it writes (its raw character set then reads ISO_IR 192);
    // our writer keeps the file's own bytes and character set: the values are compared, not that.
    const plain = (bytes: Uint8Array) =>
      JSON.stringify(read(bytes), (key, v) =>
        key === '_rawValue' ? undefined : v instanceof ArrayBuffer ? Buffer.from(v).toString('hex') : v,
      )
    let compared = 0
    for (const file of files) {
      const bytes = readFileSync(file)
      const settings = {
        key: KEY,
        options: new Set(['retain-long-modified-dates'] as const),
        withholdBurnedIn: false,
      }
      const fast = deidentifyDicom(bytes, settings)
      const slow = deidentifyDicom(bytes, { ...settings, fastPath: false })
      if (fast.status !== 'deidentified' || slow.status !== 'deidentified') continue
      expect(plain(fast.bytes), file).toBe(plain(slow.bytes))
      // The pixel data element's bytes are the input's own.
      const pixels = Buffer.from(bytes).indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]))
      if (pixels > 0)
        expect(
          Buffer.from(fast.bytes).includes(
            Buffer.from(bytes).subarray(pixels, Math.min(bytes.length, pixels + 4096)),
          ),
          file,
        ).toBe(true)
      compared++
    }
    expect(compared).toBeGreaterThan(8)
  })
})
