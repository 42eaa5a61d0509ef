import { availableParallelism } from 'node:os'
import { serialize } from 'node:v8'
import { startWorkerBeside } from '../../model/index.js'
import type { CompareTask } from './compare-worker.js'
import type { PatternCodec } from './model.js'
import type { RecordTable } from './table.js'

/**
 * The compare stage on every core: the candidate pairs are cut into one range per worker thread, each
 * worker compares its range with the default fields and writes the packed patterns into shared
 * memory. Small inputs are compared in this thread (a worker costs more to start than it saves).
 */
export const PARALLEL_FROM_PAIRS = 200_000

export function defaultThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), 8))
}

/** Compares in this thread: `pairs` are `i * n + j` keys. */
export function comparePairsHere(codec: PatternCodec, table: RecordTable, pairs: Float64Array): Uint32Array {
  const n = table.n
  const codes = new Uint32Array(pairs.length)
  for (let p = 0; p < pairs.length; p++) {
    const key = pairs[p] as number
    const i = Math.floor(key / n)
    codes[p] = codec.compare(table, i, key - i * n)
  }
  return codes
}

/** Compares the default fields in `threads` worker threads (the patterns equal `comparePairsHere`'s). */
export async function comparePairsInWorkers(
  table: RecordTable,
  pairs: Float64Array,
  threads: number,
): Promise<Uint32Array> {
  const serialized = serialize(table)
  const tableBuffer = new SharedArrayBuffer(serialized.length)
  new Uint8Array(tableBuffer).set(serialized)
  const pairsBuffer = new SharedArrayBuffer(pairs.byteLength)
  new Float64Array(pairsBuffer).set(pairs)
  const codesBuffer = new SharedArrayBuffer(pairs.length * Uint32Array.BYTES_PER_ELEMENT)
  const share = Math.ceil(pairs.length / threads)
  const runs: Array<Promise<void>> = []
  for (let t = 0; t < threads; t++) {
    const task: CompareTask = {
      table: tableBuffer,
      pairs: pairsBuffer,
      codes: codesBuffer,
      from: Math.min(t * share, pairs.length),
      to: Math.min((t + 1) * share, pairs.length),
    }
    runs.push(
      new Promise<void>((resolve, reject) => {
        const worker = startWorkerBeside(import.meta.url, 'compare-worker', task)
        worker.once('message', () => resolve())
        worker.once('error', reject)
        worker.once('exit', (code) => {
          if (code !== 0) reject(new Error(`A linkage compare worker stopped with exit code ${code}.`))
          else resolve()
        })
      }),
    )
  }
  await Promise.all(runs)
  return new Uint32Array(codesBuffer)
}
