import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { listFiles, SHARED_DATA } from '../test/support/files.js'

/**
 * DICOM de-identification throughput, `tokumei dicom deid` as one process over a directory, beside
 * GDCM's `gdcmanon` (Debian's libgdcm-tools; its basic profile, which needs an X.509 certificate —
 * one is made for the run) on the same files in the same run: files/s, MB/s and the ratio. Two
 * corpora: the DICOM files of ../shared/data copied ten times over (as the peers' figures were
 * measured on a 10× corpus), and synthetic studies (`tokumei synth --formats dicom`). Objects with
 * possible burned-in text are written too (`--keep-burned-in`), as gdcmanon writes every file.
 *
 *   npx tsx bench/dicom.ts [--persons 300] [--runs 3]
 */
const { values } = parseArgs({
  options: { persons: { type: 'string', default: '300' }, runs: { type: 'string', default: '3' } },
})
const runs = Number(values.runs)
const bin = join(import.meta.dirname, '..', 'bin', 'tokumei.js')
const work = mkdtempSync(join(tmpdir(), 'tokumei-bench-dicom-'))
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

function sizeOf(dir: string): { files: number; bytes: number } {
  let files = 0
  let bytes = 0
  for (const f of listFiles(dir)) {
    files++
    bytes += statSync(join(dir, f)).size
  }
  return { files, bytes }
}

function timed(run: () => void): number {
  const start = performance.now()
  run()
  return performance.now() - start
}

const hasGdcm =
  spawnSync('gdcmanon', ['--version']).status !== null && spawnSync('which', ['gdcmanon']).status === 0
let certificate = ''
if (hasGdcm) {
  const key = join(work, 'key.pem')
  certificate = join(work, 'cert.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      certificate,
      '-days',
      '1',
      '-subj',
      '/CN=tokumei-bench',
    ],
    { stdio: 'ignore' },
  )
}

function bench(label: string, input: string) {
  const { files, bytes } = sizeOf(input)
  const ours: number[] = []
  const flat: number[] = []
  const gdcm: number[] = []
  let written = 0
  let gdcmWritten = 0
  const runOurs = (r: number, layout: 'series' | 'flat' = 'series') => {
    const out = join(work, `ours-${layout}-${r}`)
    ;(layout === 'flat' ? flat : ours).push(
      timed(() =>
        execFileSync(
          process.execPath,
          [
            bin,
            'dicom',
            'deid',
            input,
            out,
            '--option',
            'retain-long-modified-dates',
            '--keep-burned-in',
            '--layout',
            layout,
            '--json',
          ],
          { stdio: 'pipe' },
        ),
      ),
    )
    written = listFiles(out).filter((f) => f.endsWith('.dcm')).length
    rmSync(out, { recursive: true, force: true })
  }
  const runGdcm = (r: number) => {
    const out = join(work, `gdcm-${r}`)
    mkdirSync(out)
    gdcm.push(
      timed(() =>
        spawnSync('gdcmanon', ['-r', '--continue', '-e', '-c', certificate, '-i', input, '-o', out], {
          stdio: 'ignore',
        }),
      ),
    )
    gdcmWritten = listFiles(out).length
    rmSync(out, { recursive: true, force: true })
  }
  // Interleaved, the order swapped each run: the shared machine's disk drifts, and both tools
  // should meet the same drift.
  for (let r = 0; r < runs; r++) {
    if (r % 2 === 0 || !hasGdcm) runOurs(r)
    if (hasGdcm) runGdcm(r)
    if (r % 2 === 1 && hasGdcm) runOurs(r)
    runOurs(r, 'flat')
  }
  const o = median(ours) / 1000
  console.log(`\n${label}: ${files} files, ${(bytes / 1e6).toFixed(1)} MB`)
  console.log(
    `  tokumei dicom deid (one process, median of ${runs}): ${(files / o).toFixed(0)} files/s, ${(bytes / 1e6 / o).toFixed(1)} MB/s; ${written} written`,
  )
  const f = median(flat) / 1000
  console.log(
    `  tokumei dicom deid --layout flat (no directory per study and series): ${(files / f).toFixed(0)} files/s, ${(bytes / 1e6 / f).toFixed(1)} MB/s`,
  )
  if (!hasGdcm) {
    console.log(
      '  gdcmanon: not installed (apt-get install libgdcm-tools); peers/README.md: basic profile 1 702 files/s, 207 MB/s over 177 files; 3 105 files/s, 379 MB/s over 1 770',
    )
    return
  }
  const g = median(gdcm) / 1000
  console.log(
    `  gdcmanon -e (same run, median of ${runs}): ${(files / g).toFixed(0)} files/s, ${(bytes / 1e6 / g).toFixed(1)} MB/s; ${gdcmWritten} written`,
  )
  // The ratio of each interleaved pair, then their median: steadier than the ratio of medians.
  const ratios = (times: number[]) => {
    const pairs = times.map((t, i) => (gdcm[i] as number) / t)
    return `per-run median ${median(pairs).toFixed(2)} (range ${Math.min(...pairs).toFixed(2)}–${Math.max(...pairs).toFixed(2)})`
  }
  console.log(`  ratio tokumei/gdcmanon (files/s): ${(g / o).toFixed(2)} of medians; ${ratios(ours)}`)
  console.log(`  ratio with --layout flat: ${(g / f).toFixed(2)} of medians; ${ratios(flat)}`)
}

// 1. The public test files, ten times over, in one flat directory (gdcmanon does not make the
// directories of a tree in its output).
if (SHARED_DATA && existsSync(join(SHARED_DATA, 'dicom'))) {
  const corpus = join(work, 'shared')
  mkdirSync(corpus)
  const dicom = listFiles(join(SHARED_DATA, 'dicom')).filter((f) => f.endsWith('.dcm'))
  for (let copy = 0; copy < 10; copy++)
    for (const f of dicom)
      cpSync(join(SHARED_DATA, 'dicom', f), join(corpus, `${copy}-${f.split('/').at(-1)}`))
  bench('shared/data DICOM × 10', corpus)
}

// 2. Synthetic studies.
const synth = join(work, 'synth')
execFileSync(
  process.execPath,
  [
    bin,
    'synth',
    '--persons',
    String(values.persons),
    '--hospitals',
    '3',
    '--formats',
    'dicom',
    '--out',
    synth,
  ],
  { stdio: 'ignore' },
)
const dicomOnly = join(work, 'synth-dicom')
mkdirSync(dicomOnly)
for (const [i, f] of listFiles(synth)
  .filter((f) => f.endsWith('.dcm'))
  .entries())
  cpSync(join(synth, f), join(dicomOnly, `${i}.dcm`))
bench(`synthetic studies (${values.persons} persons, 3 hospitals)`, dicomOnly)
rmSync(work, { recursive: true, force: true })
