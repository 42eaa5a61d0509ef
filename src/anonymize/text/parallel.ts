import { availableParallelism } from 'node:os'
import { startWorkerBeside } from '../../model/index.js'
import { loadTokenizer, type ScrubOptions, type Span, scrubTextWith } from './scrub.js'

/**
 * Many texts scrubbed side by side: kuromoji's tokenizer is the cost of scrubbing (one thread does
 * about 200 discharge summaries a second), so the texts are shared among worker threads, one per
 * core, each with its own dictionary. Few texts stay in this thread: a worker costs its start and
 * the dictionary's load (about a second). The texts and their patients' identifiers travel to the
 * workers as messages inside the process and are never written anywhere.
 */
export interface ScrubItem {
  readonly text: string
  readonly options: ScrubOptions
}

export interface Scrubbed {
  readonly text: string
  readonly spans: Span[]
}

/** From this many texts on, worker threads share them. */
export const PARALLEL_FROM_TEXTS = 400

/** How often (in texts) a worker reports how far it is. */
const REPORT_EVERY = 200

function inWorker(items: readonly ScrubItem[], onDone: (n: number) => void): Promise<Scrubbed[]> {
  return new Promise((resolve, reject) => {
    const worker = startWorkerBeside(import.meta.url, 'scrub-worker', { items, every: REPORT_EVERY })
    let finished = false
    worker.on('message', (message: { done: number } | { results: Scrubbed[] }) => {
      if ('done' in message) return onDone(message.done)
      finished = true
      resolve(message.results)
      void worker.terminate()
    })
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (!finished) reject(new Error(`a scrubbing worker stopped (exit code ${code}) before it was done`))
    })
  })
}

/**
 * Every text scrubbed with its own options, in order. `onProgress` hears how many are done; the
 * calling thread stays free meanwhile (a job can renew its lease).
 */
export async function scrubMany(
  items: readonly ScrubItem[],
  options: {
    readonly threads?: number
    readonly parallelFrom?: number
    readonly onProgress?: (done: number, total: number) => void
  } = {},
): Promise<Scrubbed[]> {
  const threads = options.threads ?? Math.max(1, Math.min(availableParallelism(), 8))
  const parallelFrom = options.parallelFrom ?? PARALLEL_FROM_TEXTS
  const total = items.length
  if (threads < 2 || total < parallelFrom) {
    const tokenizer = await loadTokenizer()
    const out: Scrubbed[] = []
    for (const item of items) {
      out.push(scrubTextWith(tokenizer, item.text, item.options))
      if (out.length % REPORT_EVERY === 0) options.onProgress?.(out.length, total)
    }
    options.onProgress?.(total, total)
    return out
  }
  // Interleaved shares, so that long and short texts spread evenly.
  const shares = Array.from({ length: threads }, (_, t) => items.filter((_, i) => i % threads === t))
  const done = new Array<number>(threads).fill(0)
  const parts = await Promise.all(
    shares.map((share, t) =>
      inWorker(share, (n) => {
        done[t] = n
        options.onProgress?.(
          done.reduce((a, b) => a + b, 0),
          total,
        )
      }),
    ),
  )
  const out = new Array<Scrubbed>(total)
  parts.forEach((part, t) => {
    part.forEach((result, i) => {
      out[i * threads + t] = result
    })
  })
  options.onProgress?.(total, total)
  return out
}
