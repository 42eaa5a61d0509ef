import { createHash, randomBytes, sign, verify } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Schema, TokumeiDatabase } from '../../db/index.js'
import { TokumeiError } from '../../model/index.js'
import {
  type CipherContext,
  decryptFailed,
  deriveKey,
  ed25519FromSeed,
  hmac,
  open,
  type SigningKeyPair,
  seal,
  sealedKeyVersion,
  unwrapDataKey,
  wrapDataKey,
} from './envelope.js'
import type { MasterKey } from './master-key.js'

/** Data keys that encrypt; new versions can be added (`keys rotate --data-keys`), old ones still decrypt. */
export const ENCRYPTION_PURPOSES = ['identity', 'spool', 'documents', 'packages', 'accounts'] as const
export type EncryptionPurpose = (typeof ENCRYPTION_PURPOSES)[number]

/**
 * Root keys that other keys derive from. They are never re-versioned: keyed hashes must stay equal
 * over time (blocking tokens, opt-out tombstones) and old signatures must stay verifiable.
 */
export const ROOT_PURPOSES = ['hash', 'signing'] as const
export type RootPurpose = (typeof ROOT_PURPOSES)[number]

export const DATA_KEY_PURPOSES: readonly string[] = [...ENCRYPTION_PURPOSES, ...ROOT_PURPOSES]

/** The unwrapped data keys of one database, held in memory by the process that loaded them. */
export class Keyring {
  readonly #keys: ReadonlyMap<string, ReadonlyMap<number, Buffer>>
  // Derived keys are pure functions of (root, purpose): derive each once per process.
  readonly #hmacKeys = new Map<string, Buffer>()
  readonly #signingKeys = new Map<string, SigningKeyPair & { keyId: string }>()
  readonly kekId: string

  constructor(kekId: string, keys: ReadonlyMap<string, ReadonlyMap<number, Buffer>>) {
    this.kekId = kekId
    this.#keys = keys
  }

  /** Encrypts with the newest version of the purpose's data key, bound to table, column and row. */
  encrypt(purpose: EncryptionPurpose, plaintext: Uint8Array | string, context: CipherContext): Buffer {
    const versions = this.#versions(purpose)
    const version = Math.max(...versions.keys())
    const key = versions.get(version) as Buffer
    const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext
    return seal(key, version, purpose, bytes, context)
  }

  decrypt(purpose: EncryptionPurpose, ciphertext: Uint8Array, context: CipherContext): Buffer {
    const version = sealedKeyVersion(ciphertext, purpose, context)
    const key = this.#versions(purpose).get(version)
    if (!key) {
      throw decryptFailed(
        purpose,
        context,
        `it was sealed with data key "${purpose}" v${version}, which this keyring does not hold`,
      )
    }
    return open(key, purpose, ciphertext, context)
  }

  decryptText(purpose: EncryptionPurpose, ciphertext: Uint8Array, context: CipherContext): string {
    return this.decrypt(purpose, ciphertext, context).toString('utf8')
  }

  /** HMAC-SHA-256 under a key derived for this purpose only (e.g. `blocking:surname-kana`). */
  keyedHash(purpose: string, value: string | Uint8Array): Buffer {
    return hmac(this.hmacKey(purpose), value)
  }

  /** The HKDF-derived HMAC key of one purpose. */
  hmacKey(purpose: string): Buffer {
    let key = this.#hmacKeys.get(purpose)
    if (!key) {
      key = deriveKey(this.#root('hash'), `tokumei/hmac/${purpose}`)
      this.#hmacKeys.set(purpose, key)
    }
    return key
  }

  /** A deterministic Ed25519 key pair for one purpose (`audit-checkpoint`, `release-manifest`). */
  signingKey(purpose: string): SigningKeyPair & { keyId: string } {
    let key = this.#signingKeys.get(purpose)
    if (!key) {
      const pair = ed25519FromSeed(deriveKey(this.#root('signing'), `tokumei/ed25519/${purpose}`))
      key = { ...pair, keyId: createHash('sha256').update(pair.publicKeyRaw).digest('hex').slice(0, 16) }
      this.#signingKeys.set(purpose, key)
    }
    return key
  }

  sign(purpose: string, message: Uint8Array): Buffer {
    return sign(null, message, this.signingKey(purpose).privateKey)
  }

  verifySignature(purpose: string, message: Uint8Array, signature: Uint8Array): boolean {
    return verify(null, message, this.signingKey(purpose).publicKey, signature)
  }

  /** Purpose → versions held, for `tokumei keys status`. */
  describe(): Array<{ purpose: string; versions: number[] }> {
    return [...this.#keys.entries()].map(([purpose, versions]) => ({
      purpose,
      versions: [...versions.keys()].sort((a, b) => a - b),
    }))
  }

  #versions(purpose: string): ReadonlyMap<number, Buffer> {
    const versions = this.#keys.get(purpose)
    if (!versions || versions.size === 0) {
      throw new TokumeiError(
        `The keyring has no data key "${purpose}": run \`tokumei init\` to create the missing keys.`,
        {
          code: 'crypto.no_data_key',
          kind: 'unavailable',
          details: { purpose },
        },
      )
    }
    return versions
  }

  #root(purpose: RootPurpose): Buffer {
    return this.#versions(purpose).get(1) as Buffer
  }
}

type Db = Kysely<Schema>

/** Unwraps every data key of the database with the KEK. Fails with one clear sentence on a wrong KEK. */
export async function loadKeyring(db: TokumeiDatabase | Db, master: MasterKey): Promise<Keyring> {
  const kysely = 'kysely' in db ? db.kysely : db
  const rows = await kysely.selectFrom('keyring.data_key').selectAll().execute()
  const foreign = rows.find((row) => row.kek_id !== master.id)
  if (foreign) {
    const where = master.source === 'env' ? 'TOKUMEI_MASTER_KEY' : master.file
    throw new TokumeiError(
      `The master key in ${where} (id ${master.id}) is not the one that protects this database's keys (id ${foreign.kek_id}): use the key this database was initialised or last rotated with.`,
      {
        code: 'crypto.wrong_master_key',
        kind: 'unavailable',
        details: { expected: foreign.kek_id, got: master.id },
      },
    )
  }
  const keys = new Map<string, Map<number, Buffer>>()
  for (const row of rows) {
    const versions = keys.get(row.purpose) ?? new Map<number, Buffer>()
    versions.set(row.version, unwrapDataKey(master.key, row.purpose, row.version, row.wrapped))
    keys.set(row.purpose, versions)
  }
  return new Keyring(master.id, keys)
}

/** Creates every data key the database lacks (version 1); returns the purposes created. Idempotent. */
export async function ensureDataKeys(db: TokumeiDatabase, master: MasterKey): Promise<string[]> {
  return db.kysely.transaction().execute(async (trx) => {
    const existing = new Set(
      (await trx.selectFrom('keyring.data_key').select('purpose').execute()).map((row) => row.purpose),
    )
    const created: string[] = []
    for (const purpose of DATA_KEY_PURPOSES) {
      if (existing.has(purpose)) continue
      await trx
        .insertInto('keyring.data_key')
        .values({
          purpose,
          version: 1,
          kek_id: master.id,
          wrapped: wrapDataKey(master.key, purpose, 1, randomBytes(32)),
        })
        .execute()
      created.push(purpose)
    }
    return created
  })
}

/**
 * Re-wraps every data key under a new KEK inside the given transaction. The data keys themselves do
 * not change, so everything encrypted, hashed or signed before still opens and verifies.
 */
export async function rewrapDataKeys(trx: Db, current: MasterKey, next: MasterKey): Promise<number> {
  const rows = await trx.selectFrom('keyring.data_key').selectAll().forUpdate().execute()
  for (const row of rows) {
    const dataKey = unwrapDataKey(current.key, row.purpose, row.version, row.wrapped)
    await trx
      .updateTable('keyring.data_key')
      .set({ kek_id: next.id, wrapped: wrapDataKey(next.key, row.purpose, row.version, dataKey) })
      .where('purpose', '=', row.purpose)
      .where('version', '=', row.version)
      .execute()
  }
  return rows.length
}

/** Adds a new version of each encryption data key; new data is sealed with it, old data still opens. */
export async function addDataKeyVersions(
  trx: Db,
  master: MasterKey,
): Promise<Array<{ purpose: string; version: number }>> {
  const added: Array<{ purpose: string; version: number }> = []
  for (const purpose of ENCRYPTION_PURPOSES) {
    const row = await trx
      .selectFrom('keyring.data_key')
      .select((eb) => eb.fn.max('version').as('version'))
      .where('purpose', '=', purpose)
      .executeTakeFirst()
    const version = (row?.version ?? 0) + 1
    await trx
      .insertInto('keyring.data_key')
      .values({
        purpose,
        version,
        kek_id: master.id,
        wrapped: wrapDataKey(master.key, purpose, version, randomBytes(32)),
      })
      .execute()
    added.push({ purpose, version })
  }
  return added
}
