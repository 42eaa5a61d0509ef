import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { describeEachDialect } from '../../../test/support/database.js'
import { migrateToLatest, openDatabase } from '../../db/index.js'
import { TokumeiError } from '../../model/index.js'
import { openKeyring, readAuditEvents, rotateMasterKey } from '../index.js'
import {
  ensureDataKeys,
  loadKeyring,
  masterKeyId,
  readMasterKey,
  rewrapDataKeys,
  writeKeyFile,
} from './index.js'

const ctx = (row: number) => ({ table: 'identity.patient', column: 'name_enc', row })

describeEachDialect('keyring', (t) => {
  it('creates each data key once', async () => {
    expect(await ensureDataKeys(t.db, t.master)).toEqual([])
    const purposes = (await t.db.kysely.selectFrom('keyring.data_key').select('purpose').execute()).map(
      (r) => r.purpose,
    )
    expect(purposes.sort()).toEqual([
      'accounts',
      'documents',
      'hash',
      'identity',
      'packages',
      'signing',
      'spool',
    ])
  })

  it('stores only wrapped keys: no data key appears in the table', async () => {
    const rows = await t.db.kysely.selectFrom('keyring.data_key').selectAll().execute()
    for (const row of rows) expect(row.kek_id).toBe(t.master.id)
    const sealed = t.keyring.encrypt('identity', 'canary', ctx(1))
    expect(t.keyring.decryptText('identity', sealed, ctx(1))).toBe('canary')
  })

  it('refuses a wrong master key with one sentence naming both key ids', async () => {
    const wrong = randomBytes(32)
    const error = await loadKeyring(t.db, {
      key: wrong,
      id: masterKeyId(wrong),
      source: 'env',
      file: undefined,
    }).catch((e) => e)
    expect(error).toBeInstanceOf(TokumeiError)
    expect(error.code).toBe('crypto.wrong_master_key')
    expect(error.message).toContain(masterKeyId(wrong))
    expect(error.message).toContain(t.master.id)
  })

  it('fails clearly when a wrapped key row was altered', async () => {
    const row = await t.db.kysely
      .selectFrom('keyring.data_key')
      .selectAll()
      .where('purpose', '=', 'spool')
      .executeTakeFirstOrThrow()
    const altered = Buffer.from(row.wrapped)
    altered[altered.length - 1] = (altered[altered.length - 1] as number) ^ 1
    const spool = (wrapped: Uint8Array) =>
      t.db.kysely.updateTable('keyring.data_key').set({ wrapped }).where('purpose', '=', 'spool').execute()
    await spool(altered)
    try {
      const error = await loadKeyring(t.db, t.master).catch((e) => e)
      expect(error.code).toBe('crypto.unwrap_failed')
      expect(error.message).toBe(
        'The master key does not open data key "spool" v1: the keyring row was altered or the master key is not the one that wrapped it.',
      )
    } finally {
      await spool(row.wrapped)
    }
  })
})

describeEachDialect('master key rotation', (t) => {
  it('re-wraps every data key and everything still decrypts; the old key no longer opens the keyring', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-rotate-'))
    const file = join(dir, 'master.key')
    writeKeyFile(file, t.master.key)
    const current = readMasterKey({ file, value: undefined })
    const sealed = Array.from({ length: 20 }, (_, i) =>
      t.keyring.encrypt('identity', `value ${i} 山田`, ctx(i)),
    )
    const tokenBefore = t.keyring.keyedHash('blocking', 'ヤマダ')

    const report = await rotateMasterKey(t.db, current, t.keyring, { actor: 'test', dataKeys: true })
    expect(report.previousKekId).toBe(t.master.id)
    expect(report.rewrapped).toBe(7)
    expect(report.addedDataKeys.map((k) => k.version)).toEqual([2, 2, 2, 2, 2])
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(existsSync(`${file}.next`)).toBe(false)

    const reopened = await openKeyring(t.db, { file, value: undefined })
    expect(reopened.master.id).toBe(report.kekId)
    for (const [i, value] of sealed.entries()) {
      expect(reopened.keyring.decryptText('identity', value, ctx(i))).toBe(`value ${i} 山田`)
    }
    expect(reopened.keyring.keyedHash('blocking', 'ヤマダ')).toEqual(tokenBefore)
    // New values use the new data-key version; both versions open.
    const fresh = reopened.keyring.encrypt('identity', 'new', ctx(99))
    expect(fresh.readUInt32BE(1)).toBe(2)
    expect(reopened.keyring.decryptText('identity', fresh, ctx(99))).toBe('new')

    const stale = await loadKeyring(t.db, t.master).catch((e) => e)
    expect(stale.code).toBe('crypto.wrong_master_key')
    const events = await readAuditEvents(t.db.kysely, 0, 100)
    expect(events.map((e) => e.action)).toContain('keys.rotate')
  })

  it('asks for --new-key-file when the key comes from the environment', async () => {
    const error = await rotateMasterKey(t.db, { ...t.master, source: 'env' }, t.keyring, {
      actor: 'test',
    }).catch((e) => e)
    expect(error.code).toBe('keys.need_new_key_file')
  })
})

describe('[pglite] rotation interrupted after the database changed', () => {
  it('is finished by the next start, which renames the pending key file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-rotate-crash-'))
    const file = join(dir, 'master.key')
    const oldKey = randomBytes(32)
    const newKey = randomBytes(32)
    writeKeyFile(file, oldKey)
    const db = await openDatabase({ pgliteDir: 'memory://' })
    try {
      await migrateToLatest(db)
      const old = readMasterKey({ file, value: undefined })
      await ensureDataKeys(db, old)
      const keyring = await loadKeyring(db, old)
      const sealed = keyring.encrypt('spool', 'payload', ctx(1))
      // Simulate the crash: the new key is staged and the rows re-wrapped, but the rename never happened.
      writeKeyFile(`${file}.next`, newKey)
      await db.kysely.transaction().execute((trx) =>
        rewrapDataKeys(trx, old, {
          key: newKey,
          id: masterKeyId(newKey),
          source: 'file',
          file: `${file}.next`,
        }),
      )
      const recovered = await openKeyring(db, { file, value: undefined })
      expect(recovered.master.id).toBe(masterKeyId(newKey))
      expect(existsSync(`${file}.next`)).toBe(false)
      expect(readMasterKey({ file, value: undefined }).id).toBe(masterKeyId(newKey))
      expect(recovered.keyring.decryptText('spool', sealed, ctx(1))).toBe('payload')
    } finally {
      await db.close()
    }
  })
})
