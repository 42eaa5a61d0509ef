import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join, relative } from 'node:path'
import { TokumeiError } from '../../model/index.js'
import { type DeidOptions, deidentifyDicom } from './deid.js'

/**
 * `tokumei dicom deid IN OUT`: every file of a tree (or one file), one at a time, into
 * OUT/<study>/<series>/<instance>.dcm under the new UIDs (input names can carry a patient's name or
 * ID, so none is kept). Objects that may carry burned-in text are withheld and listed for review;
 * files dcmjs cannot read are listed with the reason. Each output is written under a temporary name
 * and renamed when complete.
 */
export interface TreeResult {
  readonly files: number
  readonly bytes: number
  readonly deidentified: number
  readonly withheld: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  readonly privateRemoved: number
  readonly actions: Readonly<Record<string, number>>
  readonly studies: number
  readonly milliseconds: number
}

function* filesOf(root: string): Generator<string> {
  const stat = statSync(root)
  if (stat.isFile()) {
    yield root
    return
  }
  for (const name of readdirSync(root).sort()) {
    const path = join(root, name)
    const s = statSync(path)
    if (s.isDirectory()) yield* filesOf(path)
    else if (s.isFile()) yield path
  }
}

/** Part 10 files carry "DICM" after a 128-byte preamble; others may be raw datasets dcmjs can try. */
const looksDicom = (bytes: Uint8Array) =>
  bytes.length >= 132 &&
  bytes[128] === 0x44 &&
  bytes[129] === 0x49 &&
  bytes[130] === 0x43 &&
  bytes[131] === 0x4d

export function deidentifyTree(
  input: string,
  out: string,
  options: DeidOptions,
  onProgress?: (done: number) => void,
): TreeResult {
  if (!existsSync(input))
    throw new TokumeiError(`${input} does not exist.`, { code: 'dicom.input_missing', kind: 'invalid' })
  if (existsSync(out) && readdirSync(out).length > 0)
    throw new TokumeiError(`${out} is not empty: choose an empty or new directory for the output.`, {
      code: 'dicom.out_not_empty',
      kind: 'invalid',
    })
  mkdirSync(out, { recursive: true })
  const started = performance.now()
  let files = 0
  let bytes = 0
  let deidentified = 0
  let privateRemoved = 0
  const withheld: Array<{ path: string; reason: string }> = []
  const refused: Array<{ path: string; reason: string }> = []
  const actions: Record<string, number> = {}
  const studies = new Set<string>()
  const made = new Set<string>()
  const root = statSync(input).isFile() ? join(input, '..') : input
  for (const path of filesOf(input)) {
    files++
    const shown = relative(root, path)
    const data = readFileSync(path)
    bytes += data.length
    if (!looksDicom(data)) {
      refused.push({ path: shown, reason: 'not a DICOM Part 10 file (no DICM marker)' })
      continue
    }
    try {
      const outcome = deidentifyDicom(data, options)
      if (outcome.status === 'withheld') {
        withheld.push({ path: shown, reason: outcome.reason })
        continue
      }
      const dir = join(out, outcome.studyUid || 'study', outcome.seriesUid || 'series')
      if (!made.has(dir)) {
        mkdirSync(dir, { recursive: true })
        made.add(dir)
      }
      const target = join(dir, `${outcome.instanceUid || `instance-${files}`}.dcm`)
      writeFileSync(`${target}.partial`, outcome.bytes)
      renameSync(`${target}.partial`, target)
      deidentified++
      privateRemoved += outcome.privateRemoved
      studies.add(outcome.studyUid)
      for (const [action, n] of Object.entries(outcome.actions)) actions[action] = (actions[action] ?? 0) + n
    } catch (error) {
      refused.push({
        path: shown,
        reason: error instanceof TokumeiError ? error.message : (error as Error).name,
      })
    }
    if (files % 100 === 0) onProgress?.(files)
  }
  const result: TreeResult = {
    files,
    bytes,
    deidentified,
    withheld,
    refused,
    privateRemoved,
    actions,
    studies: studies.size,
    milliseconds: Math.round(performance.now() - started),
  }
  // What went out and what did not, without a path or name (those stay with the operator).
  writeFileSync(
    join(out, 'deidentification.json'),
    `${JSON.stringify({ ...result, withheld: countReasons(withheld), refused: countReasons(refused) }, null, 2)}\n`,
  )
  return result
}

function countReasons(items: ReadonlyArray<{ reason: string }>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const { reason } of items) out[reason] = (out[reason] ?? 0) + 1
  return out
}
