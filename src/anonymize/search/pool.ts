import { availableParallelism } from 'node:os'
import type { Worker } from 'node:worker_threads'
import { startWorkerBeside } from '../../model/index.js'
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

type Typed = Int32Array | Uint16Array | Uint8Array | Int8Array | Float64Array

/**
 * The context with its large typed arrays moved into shared memory, so that every worker reads the
 * same bytes instead of a copy of its own (the distinct tuples of a million records are tens of MB).
 */
function share<T>(value: T): T {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const typed = value as unknown as Typed
    if (typed.byteLength < 65_536 || typed.buffer instanceof SharedArrayBuffer) return value
    const Kind = typed.constructor as new (buffer: SharedArrayBuffer) => Typed
    const copy = new Kind(new SharedArrayBuffer(typed.byteLength))
    copy.set(typed as never)
    return copy as unknown as T
  }
  if (Array.isArray(value)) return value.map(share) as unknown as T
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, v] of Object.entries(value)) out[key] = share(v)
    return out as T
  }
  return value
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
    const shared = share(context)
    this.#workers = Array.from({ length: threads }, () =>
      startWorkerBeside(import.meta.url, 'check-worker', shared),
    )
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
