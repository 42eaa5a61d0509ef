/**
 * Synthetic data generation: persons/s and MB/s for 100 000 persons in every format, and the peak
 * memory of 1 000 000 persons (claims and FHIR, the streamed formats). The reference, measured in the
 * same run, is the file system itself: creating files of the same average size in the same kind of
 * tree with nothing computed, so the ratio says how much of the time is generation, not disk.
 *
 *   npx tsx bench/synth.ts [--persons 100000] [--memory-persons 1000000] [--skip-memory] [--keep]
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '100000' },
    'memory-persons': { type: 'string', default: '1000000' },
    'skip-memory': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
})

const bin = join(import.meta.dirname, '..', 'bin', 'tokumei.js')

interface Run {
  persons: number
  files: number
  bytes: number
  seconds: number
  peakRssMb: number
}

function synth(persons: number, formats: string): Run {
  const out = mkdtempSync(join(tmpdir(), 'tk-bench-synth-'))
  try {
    const json = execFileSync(
      process.execPath,
      [
        bin,
        'synth',
        '--persons',
        String(persons),
        '--hospitals',
        '20',
        '--seed',
        'bench',
        '--formats',
        formats,
        '--out',
        out,
        '--json',
      ],
      {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    return JSON.parse(json) as Run
  } finally {
    if (!values.keep) rmSync(out, { recursive: true, force: true })
  }
}

/** The file system alone: `files` files of `size` bytes, 40 to a folder, three levels deep. */
function reference(files: number, size: number): number {
  const root = mkdtempSync(join(tmpdir(), 'tk-bench-fs-'))
  const payload = Buffer.alloc(size, 0x41)
  const start = performance.now()
  for (let i = 0; i < files; i++) {
    const folder = Math.floor(i / 40)
    const dir = join(root, String(folder % 97), String(folder % 1000), String(folder))
    if (i % 40 === 0) mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `${i}.dat`), payload)
  }
  const seconds = (performance.now() - start) / 1000
  rmSync(root, { recursive: true, force: true })
  return seconds
}

const persons = Number(values.persons)
console.log(`synth, every format, ${persons} persons at 20 hospitals …`)
const full = synth(persons, 'ssmix2,uke,fhir,dicom,notes')
const sampleFiles = Math.min(full.files, 200_000)
const refSeconds = (reference(sampleFiles, Math.round(full.bytes / full.files)) * full.files) / sampleFiles
console.log(
  [
    `  ${(full.persons / full.seconds).toFixed(0)} persons/s, ${(full.bytes / 1e6 / full.seconds).toFixed(1)} MB/s, ${full.files} files, ${(full.bytes / 1e6).toFixed(0)} MB in ${full.seconds.toFixed(0)} s, peak ${full.peakRssMb} MB`,
    `  reference: the same files written with nothing generated: ${refSeconds.toFixed(0)} s (extrapolated from ${sampleFiles} files)`,
    `  ratio (reference time / ours): ${(refSeconds / full.seconds).toFixed(2)}`,
  ].join('\n'),
)

if (!values['skip-memory']) {
  const small = Math.max(10_000, Math.round(Number(values['memory-persons']) / 100))
  const many = Number(values['memory-persons'])
  console.log(`synth, claims and FHIR, peak memory at ${small} and at ${many} persons …`)
  const a = synth(small, 'uke,fhir')
  const b = synth(many, 'uke,fhir')
  console.log(
    [
      `  ${small} persons: peak ${a.peakRssMb} MB (${(a.persons / a.seconds).toFixed(0)} persons/s)`,
      `  ${many} persons: peak ${b.peakRssMb} MB (${(b.persons / b.seconds).toFixed(0)} persons/s, ${(b.bytes / 1e9).toFixed(1)} GB)`,
      `  ratio of peaks (${many} / ${small} persons): ${(b.peakRssMb / a.peakRssMb).toFixed(2)} — flat memory is 1.00`,
    ].join('\n'),
  )
}
