import { deserialize } from 'node:v8'
import { parentPort, workerData } from 'node:worker_threads'
import { FIELDS } from './fields.js'
import { PatternCodec } from './model.js'
import type { RecordTable } from './table.js'

/**
 * A worker of `comparePairsInWorkers`: compares its share of the candidate pairs and writes their
 * packed patterns into the shared output. Everything arrives in shared memory (the record table
 * serialized once, the pairs, the output): nothing is copied per worker but the table's
 * deserialization.
 */
export interface CompareTask {
  readonly table: SharedArrayBuffer
  readonly pairs: SharedArrayBuffer
  readonly codes: SharedArrayBuffer
  readonly from: number
  readonly to: number
}

const task = workerData as CompareTask
const table = deserialize(new Uint8Array(task.table)) as RecordTable
const pairs = new Float64Array(task.pairs)
const codes = new Uint32Array(task.codes)
const codec = new PatternCodec(FIELDS)
const n = table.n
for (let p = task.from; p < task.to; p++) {
  const key = pairs[p] as number
  const i = Math.floor(key / n)
  codes[p] = codec.compare(table, i, key - i * n)
}
parentPort?.postMessage('done')
