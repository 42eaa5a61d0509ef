import { deserialize } from 'node:v8'
import { parentPort, workerData } from 'node:worker_threads'
import { FIELDS, type LinkRecord } from './fields.js'
import { PatternCodec } from './model.js'

/**
 * A worker of `comparePairs`: compares its share of the candidate pairs and writes their packed
 * patterns into the shared output. Everything arrives in shared memory (records serialized once, the
 * pairs, the output), so that nothing is copied per worker but the records' deserialization.
 */
export interface CompareTask {
  readonly records: SharedArrayBuffer
  readonly pairs: SharedArrayBuffer
  readonly codes: SharedArrayBuffer
  readonly n: number
  readonly from: number
  readonly to: number
}

const task = workerData as CompareTask
const records = deserialize(new Uint8Array(task.records)) as LinkRecord[]
const pairs = new Float64Array(task.pairs)
const codes = new Uint32Array(task.codes)
const codec = new PatternCodec(FIELDS)
for (let p = task.from; p < task.to; p++) {
  const key = pairs[p] as number
  const i = Math.floor(key / task.n)
  codes[p] = codec.compare(records[i] as LinkRecord, records[key - i * task.n] as LinkRecord)
}
parentPort?.postMessage('done')
