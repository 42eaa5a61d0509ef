import { existsSync, renameSync, rmSync } from 'node:fs'
import type { TokumeiDatabase } from '../db/index.js'
import { TokumeiError } from '../model/index.js'
import { recordAuditEvent } from './audit/index.js'
import {
  addDataKeyVersions,
  generateMasterKey,
  type Keyring,
  loadKeyring,
  type MasterKey,
  type MasterKeySettings,
  masterKeyId,
  readMasterKey,
  rewrapDataKeys,
  writeKeyFile,
} from './crypto/index.js'

/** The key file of a rotation in progress: written before the database changes, renamed after. */
const pendingFile = (file: string) => `${file}.next`

/**
 * Loads the KEK and the keyring. If the database was re-wrapped by a rotation that stopped before it
 * could rename the new key file into place, the rotation is finished here.
 */
export async function openKeyring(
  db: TokumeiDatabase,
  settings: MasterKeySettings,
): Promise<{ master: MasterKey; keyring: Keyring }> {
  const master = readMasterKey(settings)
  try {
    return { master, keyring: await loadKeyring(db, master) }
  } catch (error) {
    const pending = master.file ? pendingFile(master.file) : undefined
    if (
      !(error instanceof TokumeiError) ||
      error.code !== 'crypto.wrong_master_key' ||
      !pending ||
      !existsSync(pending)
    ) {
      throw error
    }
    const next = readMasterKey({ file: pending, value: undefined })
    const keyring = await loadKeyring(db, next)
    renameSync(pending, master.file as string)
    return { master: { ...next, file: master.file }, keyring }
  }
}

export interface RotationOptions {
  readonly actor: string
  /** Also add a new version of each encryption data key. */
  readonly dataKeys?: boolean
  /** Where to write the new KEK when the current one comes from TOKUMEI_MASTER_KEY. */
  readonly newKeyFile?: string
}

export interface RotationReport {
  readonly previousKekId: string
  readonly kekId: string
  readonly rewrapped: number
  readonly addedDataKeys: Array<{ purpose: string; version: number }>
  /** The file holding the new KEK. */
  readonly keyFile: string
}

/**
 * Replaces the key-encryption key: the new key is written to disk first, then every data key is
 * re-wrapped in one transaction (with its audit event), then the new key file takes the old one's
 * place. A crash at any point leaves a state that `openKeyring` opens.
 */
export async function rotateMasterKey(
  db: TokumeiDatabase,
  current: MasterKey,
  keyring: Keyring,
  options: RotationOptions,
): Promise<RotationReport> {
  const nextKey = generateMasterKey()
  let staging: string
  if (current.source === 'file' && current.file) {
    staging = pendingFile(current.file)
    writeKeyFile(staging, nextKey, { replace: true })
  } else {
    if (!options.newKeyFile) {
      throw new TokumeiError(
        'The master key comes from TOKUMEI_MASTER_KEY: pass --new-key-file PATH to receive the new key, then put it in TOKUMEI_MASTER_KEY.',
        { code: 'keys.need_new_key_file', kind: 'invalid' },
      )
    }
    if (existsSync(options.newKeyFile)) {
      throw new TokumeiError(
        `${options.newKeyFile} already exists: name a new file for the new master key.`,
        {
          code: 'keys.new_key_file_exists',
          kind: 'invalid',
        },
      )
    }
    staging = options.newKeyFile
    writeKeyFile(staging, nextKey)
  }
  const next: MasterKey = { key: nextKey, id: masterKeyId(nextKey), source: 'file', file: staging }
  let report: Omit<RotationReport, 'keyFile'>
  try {
    report = await db.kysely.transaction().execute(async (trx) => {
      const rewrapped = await rewrapDataKeys(trx, current, next)
      const addedDataKeys = options.dataKeys ? await addDataKeyVersions(trx, next) : []
      await recordAuditEvent(trx, keyring, {
        actor: options.actor,
        action: 'keys.rotate',
        target: `kek:${next.id}`,
        detail: { previous_kek: current.id, rewrapped, new_data_key_versions: addedDataKeys.length },
      })
      return { previousKekId: current.id, kekId: next.id, rewrapped, addedDataKeys }
    })
  } catch (error) {
    rmSync(staging, { force: true })
    throw error
  }
  if (current.source === 'file' && current.file) {
    renameSync(staging, current.file)
    return { ...report, keyFile: current.file }
  }
  return { ...report, keyFile: staging }
}
