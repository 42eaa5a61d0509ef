import { parentPort, workerData } from 'node:worker_threads'
import { checkFromBase, contextFromPlain, type PlainCheckContext } from './check.js'

/** A worker of the parallel search: checks the nodes it is sent, from the distinct tuples. */
const context = contextFromPlain(workerData as PlainCheckContext)
parentPort?.on('message', (message: { id: number; levels: number[] }) => {
  parentPort?.postMessage({ id: message.id, outcome: checkFromBase(context, message.levels) })
})
