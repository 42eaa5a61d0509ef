import { sql } from 'kysely'
import { beforeEach, expect, it } from 'vitest'
import { describeEachDialect, type TestDatabase } from '../../../test/support/database.js'
import {
  readAuditEvents,
  recordAuditEvent,
  tailAuditEvents,
  verifyAuditLog,
  writeCheckpoint,
} from './index.js'

async function seed(t: TestDatabase, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await recordAuditEvent(t.db.kysely, t.keyring, {
      actor: 'os:tester@host',
      action: 'test.event',
      target: `job:${i}`,
      detail: { i, note: `event ${i}`, ok: i % 2 === 0 },
    })
  }
}

/** Runs statements as a superuser with the append-only triggers disabled, as an attacker with DBA rights would. */
async function asSuperuser(t: TestDatabase, statements: string[]): Promise<void> {
  await t.db.kysely.transaction().execute(async (trx) => {
    await sql`alter table audit.event disable trigger user`.execute(trx)
    await sql`alter table audit.checkpoint disable trigger user`.execute(trx)
    for (const statement of statements) await sql.raw(statement).execute(trx)
    await sql`alter table audit.event enable trigger user`.execute(trx)
    await sql`alter table audit.checkpoint enable trigger user`.execute(trx)
  })
}

describeEachDialect('audit chain', (t) => {
  beforeEach(async () => {
    await asSuperuser(t, ['delete from audit.checkpoint', 'delete from audit.event'])
  })

  it('chains events and verifies an intact log', async () => {
    await seed(t, 12)
    await writeCheckpoint(t.db.kysely, t.keyring)
    await seed(t, 3)
    const result = await verifyAuditLog(t.db.kysely, t.keyring)
    expect(result).toMatchObject({
      ok: true,
      events: 15,
      lastSeq: 15,
      checkpoints: 1,
      lastCheckpointSeq: 12,
      firstBadSeq: null,
    })
    const events = await readAuditEvents(t.db.kysely, 0, 100)
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1))
    expect(events[1]?.prevHash).toEqual(events[0]?.hash)
    expect(events[0]?.detail).toEqual({ i: 0, note: 'event 0', ok: true })
  })

  it('keeps the sequence gap-free under concurrent writers', async () => {
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        recordAuditEvent(t.db.kysely, t.keyring, {
          actor: 'system:test',
          action: 'test.concurrent',
          detail: { i },
        }),
      ),
    )
    const result = await verifyAuditLog(t.db.kysely, t.keyring)
    expect(result.ok).toBe(true)
    expect(result.events).toBe(25)
  })

  it('records nothing when the surrounding transaction rolls back', async () => {
    await seed(t, 2)
    await t.db.kysely
      .transaction()
      .execute(async (trx) => {
        await recordAuditEvent(trx, t.keyring, { actor: 'system:test', action: 'test.rolled_back' })
        throw new Error('abort')
      })
      .catch(() => {})
    const events = await readAuditEvents(t.db.kysely, 0, 100)
    expect(events.map((e) => e.action)).toEqual(['test.event', 'test.event'])
    expect((await verifyAuditLog(t.db.kysely, t.keyring)).ok).toBe(true)
  })

  it('refuses UPDATE, DELETE and TRUNCATE through the trigger', async () => {
    await seed(t, 2)
    await expect(sql`update audit.event set actor = 'x' where seq = 1`.execute(t.db.kysely)).rejects.toThrow(
      /append-only/,
    )
    await expect(sql`delete from audit.event where seq = 1`.execute(t.db.kysely)).rejects.toThrow(
      /append-only/,
    )
    await expect(sql`truncate audit.event`.execute(t.db.kysely)).rejects.toThrow(/append-only/)
    await writeCheckpoint(t.db.kysely, t.keyring)
    await expect(sql`delete from audit.checkpoint`.execute(t.db.kysely)).rejects.toThrow(/append-only/)
  })

  it('refuses an append that does not extend the head', async () => {
    await seed(t, 2)
    await expect(
      sql`select audit.append(2, now(), 'x', 'forged.event', null, 'ok', '{}'::jsonb, ${Buffer.alloc(32)}, ${Buffer.alloc(32)})`.execute(
        t.db.kysely,
      ),
    ).rejects.toThrow(/audit chain head moved/)
  })

  it('finds a modified event even with the trigger disabled', async () => {
    await seed(t, 10)
    await asSuperuser(t, [`update audit.event set detail = '{"i": 99}' where seq = 6`])
    const result = await verifyAuditLog(t.db.kysely, t.keyring)
    expect(result.ok).toBe(false)
    expect(result.firstBadSeq).toBe(6)
    expect(result.problems[0]?.kind).toBe('altered')
  })

  it('finds a deleted event', async () => {
    await seed(t, 10)
    await asSuperuser(t, ['delete from audit.event where seq = 4'])
    const result = await verifyAuditLog(t.db.kysely, t.keyring)
    expect(result.firstBadSeq).toBe(4)
    expect(result.problems.map((p) => p.kind)).toContain('missing')
  })

  it('finds an inserted event, whether appended or squeezed in by renumbering', async () => {
    await seed(t, 10)
    await asSuperuser(t, [
      `insert into audit.event (seq, at, actor, action, target, outcome, detail, prev_hash, hash)
       select 11, now(), 'os:intruder@host', 'test.event', null, 'ok', '{}', hash, hash from audit.event where seq = 10`,
    ])
    expect((await verifyAuditLog(t.db.kysely, t.keyring)).firstBadSeq).toBe(11)

    await asSuperuser(t, [
      'delete from audit.event where seq = 11',
      'update audit.event set seq = seq + 1000 where seq >= 5',
      'update audit.event set seq = seq - 999 where seq >= 1000',
      `insert into audit.event (seq, at, actor, action, target, outcome, detail, prev_hash, hash)
       select 5, now(), 'os:intruder@host', 'test.event', null, 'ok', '{}', hash, hash from audit.event where seq = 4`,
    ])
    const result = await verifyAuditLog(t.db.kysely, t.keyring)
    expect(result.firstBadSeq).toBe(5)
  })

  it('finds two events swapped', async () => {
    await seed(t, 10)
    await asSuperuser(t, [
      'update audit.event set seq = 1003 where seq = 3',
      'update audit.event set seq = 3 where seq = 7',
      'update audit.event set seq = 7 where seq = 1003',
    ])
    const result = await verifyAuditLog(t.db.kysely, t.keyring)
    expect(result.firstBadSeq).toBe(3)
  })

  it('finds events cut off the end when a signed checkpoint covered them', async () => {
    await seed(t, 10)
    await writeCheckpoint(t.db.kysely, t.keyring)
    await asSuperuser(t, ['delete from audit.event where seq > 7'])
    const result = await verifyAuditLog(t.db.kysely, t.keyring)
    expect(result.ok).toBe(false)
    expect(result.firstBadSeq).toBe(8)
    expect(result.problems[0]?.kind).toBe('truncated')
  })

  it('refuses a checkpoint whose signature is not ours', async () => {
    await seed(t, 5)
    await writeCheckpoint(t.db.kysely, t.keyring)
    await asSuperuser(t, [`update audit.checkpoint set signature = decode(repeat('00', 64), 'hex')`])
    const result = await verifyAuditLog(t.db.kysely, t.keyring)
    expect(result.problems.map((p) => p.kind)).toEqual(['checkpoint_signature'])
    expect(result.firstBadSeq).toBe(5)
  })

  it('writes a checkpoint only when there is something new to sign', async () => {
    await seed(t, 3)
    expect((await writeCheckpoint(t.db.kysely, t.keyring))?.seq).toBe(3)
    expect(await writeCheckpoint(t.db.kysely, t.keyring)).toBeUndefined()
  })

  it('tails the newest events and follows new ones', async () => {
    await seed(t, 5)
    const abort = new AbortController()
    const seen: number[] = []
    const tail = (async () => {
      for await (const event of tailAuditEvents(t.db.kysely, {
        last: 2,
        follow: true,
        pollMs: 20,
        signal: abort.signal,
      })) {
        seen.push(event.seq)
        if (seen.length === 3) abort.abort()
      }
    })()
    await new Promise((r) => setTimeout(r, 100))
    await seed(t, 1)
    await tail
    expect(seen).toEqual([4, 5, 6])
  })
})
