import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/**
 * Where generated files go. Whole files are written at once; appended files (NDJSON, monthly claims,
 * truth CSVs) are buffered per file and flushed when a file's buffer, or all buffers together, grow
 * past a bound — so memory stays flat however many persons are generated.
 */
export class FileSink {
  readonly #root: string
  readonly #buffers = new Map<string, Buffer[]>()
  readonly #sizes = new Map<string, number>()
  readonly #appended = new Set<string>()
  #buffered = 0
  #written = 0
  #files = 0

  static readonly FILE_BUFFER = 64 * 1024
  static readonly TOTAL_BUFFER = 32 * 1024 * 1024

  constructor(root: string) {
    this.#root = root
  }

  get bytesWritten(): number {
    return this.#written + this.#buffered
  }

  get filesWritten(): number {
    return this.#files
  }

  writeFile(relativePath: string, content: Uint8Array | string): void {
    const path = join(this.#root, relativePath)
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content
    inFolder(path, () => writeFileSync(path, bytes))
    this.#written += bytes.length
    this.#files++
  }

  append(relativePath: string, content: Uint8Array | string): void {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content)
    let list = this.#buffers.get(relativePath)
    if (!list) {
      list = []
      this.#buffers.set(relativePath, list)
    }
    list.push(bytes)
    const size = (this.#sizes.get(relativePath) ?? 0) + bytes.length
    this.#sizes.set(relativePath, size)
    this.#buffered += bytes.length
    if (size >= FileSink.FILE_BUFFER) this.#flush(relativePath)
    if (this.#buffered >= FileSink.TOTAL_BUFFER) this.flushAll()
  }

  flushAll(): void {
    for (const path of [...this.#buffers.keys()]) this.#flush(path)
  }

  #flush(relativePath: string): void {
    const list = this.#buffers.get(relativePath)
    if (!list || list.length === 0) return
    const path = join(this.#root, relativePath)
    const bytes = Buffer.concat(list)
    if (!this.#appended.has(relativePath)) {
      this.#appended.add(relativePath)
      this.#files++
    }
    inFolder(path, () => appendFileSync(path, bytes))
    this.#written += bytes.length
    this.#buffered -= bytes.length
    this.#buffers.delete(relativePath)
    this.#sizes.delete(relativePath)
  }
}

/** Most files land in a folder that exists already: try first, create the folder only when missing. */
function inFolder(path: string, write: () => void): void {
  try {
    write()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    mkdirSync(dirname(path), { recursive: true })
    write()
  }
}
