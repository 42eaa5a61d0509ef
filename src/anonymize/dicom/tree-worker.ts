import { parentPort, workerData } from 'node:worker_threads'
import { loadTokenizer } from '../text/scrub.js'
import { type PlainDeidOptions, processFiles } from './tree.js'

/** A worker of `deidentifyTree`: its share of the files, read, de-identified and written. */
const { paths, root, out, settings } = workerData as {
  paths: string[]
  root: string
  out: string
  settings: PlainDeidOptions
}
parentPort?.postMessage(
  processFiles(paths, root, out, {
    key: settings.key,
    options: new Set(settings.options),
    shiftDays: settings.shiftDays,
    withholdBurnedIn: settings.withholdBurnedIn,
    burnedInRules: settings.burnedInRules,
    privateAllowList: settings.privateAllowList,
    layout: settings.layout,
    tokenizer: settings.options.includes('clean-descriptors') ? await loadTokenizer() : undefined,
  }),
)
