import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Keyring } from '../security/index.js'

/**
 * Large clinical objects (DICOM instances) in a local directory, each file encrypted with the
 * documents key and bound to its key, so a copied file is unreadable and a swapped one fails to
 * decrypt. Writes are atomic (temporary file, then rename); writing the same key again replaces it,
 * which makes a retried batch harmless.
 */
export class ObjectStore {
  readonly #dir: string
  readonly #keyring: Keyring

  constructor(dir: string, keyring: Keyring) {
    this.#dir = dir
    this.#keyring = keyring
  }

  #path(key: string): string {
    if (!/^[a-z0-9-]{1,128}$/.test(key)) throw new Error('an object key must be 1 to 128 of a-z, 0-9 and -')
    // Fan out over 256 folders so that no folder grows to millions of files.
    return join(this.#dir, createHash('sha256').update(key).digest('hex').slice(0, 2), key)
  }

  put(key: string, bytes: Uint8Array): void {
    const path = this.#path(key)
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    const sealed = this.#keyring.encrypt('documents', bytes, { table: 'object', column: 'bytes', row: key })
    const temporary = `${path}.${process.pid}.tmp`
    writeFileSync(temporary, sealed, { mode: 0o600 })
    renameSync(temporary, path)
  }

  get(key: string): Buffer {
    const sealed = readFileSync(this.#path(key))
    return this.#keyring.decrypt('documents', sealed, { table: 'object', column: 'bytes', row: key })
  }

  delete(key: string): void {
    rmSync(this.#path(key), { force: true })
  }
}
