import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { CheckOutcome, PlainCheckContext } from './check.js'

/**
 * Worker threads that check nodes side by side. Each holds its own copy of the check context (the
 * distinct tuples, hierarchies and model); a check is one message out and one back. Small searches
 * stay in one thread: a worker costs more to start than it saves.
 */
export const PARALLEL_FROM_TUPLES = 150_000

export function searchThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), 8))
}

function startWorker(context: PlainCheckContext): Worker {
  const typescript = import.meta.url.endsWith('.ts')
  if (!typescript) return new Worker(new URL('./check-worker.js', import.meta.url), { workerData: context })
  const script = new URL('./check-worker.ts', import.meta.url).href
  const loader = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(script)}, ${JSON.stringify(import.meta.url)}))`
  return new Worker(loader, { eval: true, workerData: context })
}

interface Job {
  readonly levels: number[]
  readonly resolve: (outcome: CheckOutcome) => void
  readonly reject: (error: unknown) => void
}

export class CheckPool {
  readonly threads: number
  readonly #workers: Worker[]
  readonly #idle: Worker[]
  readonly #queue: Job[] = []
  readonly #pending = new Map<number, { resolve: (o: CheckOutcome) => void; reject: (e: unknown) => void }>()
  #next = 0

  constructor(context: PlainCheckContext, threads: number) {
    this.threads = threads
    this.#workers = Array.from({ length: threads }, () => startWorker(context))
    this.#idle = [...this.#workers]
    for (const worker of this.#workers) {
      worker.on('message', (message: { id: number; outcome: CheckOutcome }) => {
        const waiting = this.#pending.get(message.id)
        this.#pending.delete(message.id)
        this.#idle.push(worker)
        waiting?.resolve(message.outcome)
        this.#dispatch()
      })
      worker.on('error', (error) => {
        for (const waiting of this.#pending.values()) waiting.reject(error)
        this.#pending.clear()
      })
    }
  }

  check(levels: number[]): Promise<CheckOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ levels, resolve, reject })
      this.#dispatch()
    })
  }

  #dispatch() {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const worker = this.#idle.pop() as Worker
      const job = this.#queue.shift() as Job
      const id = this.#next++
      this.#pending.set(id, { resolve: job.resolve, reject: job.reject })
      worker.postMessage({ id, levels: job.levels })
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()))
  }
}
