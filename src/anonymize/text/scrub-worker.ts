import { parentPort, workerData } from 'node:worker_threads'
import type { ScrubItem } from './parallel.js'
import { loadTokenizer, scrubTextWith } from './scrub.js'

/** A worker of `scrubMany`: its share of the texts, scrubbed in order, with a word every so often. */
const { items, every } = workerData as { items: ScrubItem[]; every: number }
const tokenizer = await loadTokenizer()
const results = items.map((item, i) => {
  const result = scrubTextWith(tokenizer, item.text, item.options)
  if ((i + 1) % every === 0) parentPort?.postMessage({ done: i + 1 })
  return result
})
parentPort?.postMessage({ results })
