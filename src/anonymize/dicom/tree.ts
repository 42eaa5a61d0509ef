import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, relative } from 'node:path'
import { startWorkerBeside, TokumeiError } from '../../model/index.js'
import { loadTokenizer } from '../text/scrub.js'
import type { DicomOption } from './actions.js'
import { type DeidOptions, deidentifyDicom } from './deid.js'

/**
 * `tokumei dicom deid IN OUT`: every file of a tree (or one file) into
 * OUT/<study>/<series>/<instance>.dcm under the new UIDs (input names can carry a patient's name or
 * ID, so none is kept). Objects that may carry burned-in text are withheld and listed for review;
 * files dcmjs cannot read are listed with the reason. Each output is written under a temporary name
 * and renamed when complete. Under Clean Descriptors, from a thousand files on, the files are
 * shared among worker threads (one per core), each reading, de-identifying and writing its own.
 */
export interface TreeResult {
  readonly files: number
  readonly bytes: number
  readonly deidentified: number
  readonly withheld: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  readonly privateRemoved: number
  /** Private attributes kept by the allow-list. */
  readonly privateKept: number
  /** Objects whose burned-in text was blanked by a rule's regions. */
  readonly pixelsCleaned: number
  readonly actions: Readonly<Record<string, number>>
  readonly studies: number
  readonly milliseconds: number
}

/**
 * Where each output goes: OUT/<study>/<series>/<instance>.dcm (default), OUT/<study>/<instance>.dcm,
 * or OUT/<instance>.dcm. A directory costs a system call of its own, which on trees of small
 * studies is most of the time (docs/benchmarks.md).
 */
export const LAYOUTS = ['series', 'study', 'flat'] as const
export type Layout = (typeof LAYOUTS)[number]

export interface TreeOptions extends DeidOptions {
  readonly layout?: Layout
}

/** What one thread did with its files (studies as their UIDs, merged by the caller). */
export interface PartResult extends Omit<TreeResult, 'studies' | 'milliseconds'> {
  readonly studyUids: readonly string[]
}

/** The options as plain data, for a worker. */
export interface PlainDeidOptions {
  readonly key: Uint8Array
  readonly options: readonly DicomOption[]
  readonly shiftDays?: number
  readonly withholdBurnedIn?: boolean
  readonly burnedInRules?: DeidOptions['burnedInRules']
  readonly privateAllowList?: DeidOptions['privateAllowList']
  readonly layout?: Layout
}

/**
 * Worker threads share the files when the work per file is the scrubber's (Clean Descriptors runs
 * kuromoji on every descriptor), from this many files on (a worker costs its start). Without it, a
 * file is a read, a few hundred microseconds of work and a write: the disk is the limit, and one
 * thread was measured faster than two (1.22 s against 1.45 s for 2 756 synthetic files).
 */
export const PARALLEL_FROM_FILES = 1000

function filesOf(root: string, out: string[] = []): string[] {
  const stat = statSync(root)
  if (stat.isFile()) {
    out.push(root)
    return out
  }
  for (const name of readdirSync(root).sort()) {
    const path = join(root, name)
    const s = statSync(path)
    if (s.isDirectory()) filesOf(path, out)
    else if (s.isFile()) out.push(path)
  }
  return out
}

/** Part 10 files carry "DICM" after a 128-byte preamble. */
const looksDicom = (bytes: Uint8Array) =>
  bytes.length >= 132 &&
  bytes[128] === 0x44 &&
  bytes[129] === 0x49 &&
  bytes[130] === 0x43 &&
  bytes[131] === 0x4d

/** A directory, which another worker may have just made. */
function makeDir(dir: string): void {
  try {
    mkdirSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
}

/** De-identifies the files given, writing under `out`. */
export function processFiles(
  paths: readonly string[],
  root: string,
  out: string,
  settings: TreeOptions,
  onProgress?: (done: number) => void,
): PartResult {
  let bytes = 0
  let deidentified = 0
  let privateRemoved = 0
  let pixelsCleaned = 0
  let privateKept = 0
  const withheld: Array<{ path: string; reason: string }> = []
  const refused: Array<{ path: string; reason: string }> = []
  const actions: Record<string, number> = {}
  const studies = new Set<string>()
  const made = new Set<string>()
  paths.forEach((path, i) => {
    const shown = relative(root, path)
    const data = readFileSync(path)
    bytes += data.length
    if (!looksDicom(data)) {
      refused.push({ path: shown, reason: 'not a DICOM Part 10 file (no DICM marker)' })
      return
    }
    try {
      const outcome = deidentifyDicom(data, settings)
      if (outcome.status === 'withheld') {
        withheld.push({ path: shown, reason: outcome.reason })
        return
      }
      // One plain mkdir per new directory (a recursive one costs three system calls each time).
      const layout = settings.layout ?? 'series'
      const study = layout === 'flat' ? out : join(out, outcome.studyUid || 'study')
      const dir = layout === 'series' ? join(study, outcome.seriesUid || 'series') : study
      if (!made.has(dir)) {
        if (study !== out && !made.has(study)) {
          makeDir(study)
          made.add(study)
        }
        if (dir !== study) makeDir(dir)
        made.add(dir)
      }
      const target = join(dir, `${outcome.instanceUid || `instance-${i}`}.dcm`)
      writeFileSync(`${target}.partial`, outcome.bytes)
      renameSync(`${target}.partial`, target)
      deidentified++
      privateRemoved += outcome.privateRemoved
      if (outcome.pixelsCleaned) pixelsCleaned++
      privateKept += outcome.privateKept
      studies.add(outcome.studyUid)
      for (const [action, n] of Object.entries(outcome.actions)) actions[action] = (actions[action] ?? 0) + n
    } catch (error) {
      refused.push({
        path: shown,
        reason: error instanceof TokumeiError ? error.message : (error as Error).name,
      })
    }
    if ((i + 1) % 100 === 0) onProgress?.(i + 1)
  })
  return {
    files: paths.length,
    bytes,
    deidentified,
    withheld,
    refused,
    privateRemoved,
    privateKept,
    pixelsCleaned,
    actions,
    studyUids: [...studies],
  }
}

function inWorker(
  paths: string[],
  root: string,
  out: string,
  settings: PlainDeidOptions,
): Promise<PartResult> {
  return new Promise((resolve, reject) => {
    const worker = startWorkerBeside(import.meta.url, 'tree-worker', { paths, root, out, settings })
    worker.once('message', (part: PartResult) => {
      resolve(part)
      void worker.terminate()
    })
    worker.once('error', reject)
  })
}

export async function deidentifyTree(
  input: string,
  out: string,
  options: TreeOptions,
  onProgress?: (done: number) => void,
  threads = Math.max(1, Math.min(availableParallelism(), 8)),
  parallelFrom = options.options?.has('clean-descriptors') ? PARALLEL_FROM_FILES : Number.POSITIVE_INFINITY,
): Promise<TreeResult> {
  if (!existsSync(input))
    throw new TokumeiError(`${input} does not exist.`, { code: 'dicom.input_missing', kind: 'invalid' })
  if (existsSync(out) && readdirSync(out).length > 0)
    throw new TokumeiError(`${out} is not empty: choose an empty or new directory for the output.`, {
      code: 'dicom.out_not_empty',
      kind: 'invalid',
    })
  mkdirSync(out, { recursive: true })
  const started = performance.now()
  const root = statSync(input).isFile() ? join(input, '..') : input
  const paths = filesOf(input)
  // Clean Descriptors scrubs text: the dictionary loads once here (and once in each worker).
  const settings: TreeOptions =
    options.options?.has('clean-descriptors') && !options.tokenizer
      ? { ...options, tokenizer: await loadTokenizer() }
      : options
  let parts: PartResult[]
  if (threads > 1 && paths.length >= parallelFrom) {
    // Interleaved shares: each thread gets every n-th file, so large and small files spread evenly.
    const shares = Array.from({ length: threads }, (_, t) => paths.filter((_, i) => i % threads === t))
    const plain: PlainDeidOptions = {
      key: options.key,
      options: [...(options.options ?? [])],
      shiftDays: options.shiftDays,
      withholdBurnedIn: options.withholdBurnedIn,
      burnedInRules: options.burnedInRules,
      privateAllowList: options.privateAllowList,
      layout: options.layout,
    }
    parts = await Promise.all(shares.map((share) => inWorker(share, root, out, plain)))
    onProgress?.(paths.length)
  } else parts = [processFiles(paths, root, out, settings, onProgress)]
  const actions: Record<string, number> = {}
  for (const part of parts)
    for (const [action, n] of Object.entries(part.actions)) actions[action] = (actions[action] ?? 0) + n
  const result: TreeResult = {
    files: paths.length,
    bytes: parts.reduce((s, p) => s + p.bytes, 0),
    deidentified: parts.reduce((s, p) => s + p.deidentified, 0),
    withheld: parts.flatMap((p) => p.withheld),
    refused: parts.flatMap((p) => p.refused),
    privateRemoved: parts.reduce((s, p) => s + p.privateRemoved, 0),
    privateKept: parts.reduce((s, p) => s + p.privateKept, 0),
    pixelsCleaned: parts.reduce((s, p) => s + p.pixelsCleaned, 0),
    actions,
    studies: new Set(parts.flatMap((p) => p.studyUids)).size,
    milliseconds: Math.round(performance.now() - started),
  }
  // What went out and what did not, without a path or name (those stay with the operator).
  writeFileSync(
    join(out, 'deidentification.json'),
    `${JSON.stringify({ ...result, withheld: countReasons(result.withheld), refused: countReasons(result.refused) }, null, 2)}\n`,
  )
  return result
}

function countReasons(items: ReadonlyArray<{ reason: string }>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const { reason } of items) out[reason] = (out[reason] ?? 0) + 1
  return out
}
