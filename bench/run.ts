import { createCipheriv, createHmac, randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { migrateToLatest, openDatabase, type TokumeiDatabase } from '../src/db/index.js'
import { claimJob, completeJob, enqueueJob } from '../src/jobs/index.js'
import {
  ensureDataKeys,
  loadKeyring,
  masterKeyId,
  recordAuditEvent,
  verifyAuditLog,
} from '../src/security/index.js'
import { withBenchServer } from './server.js'

function rate(count: number, ms: number): number {
  return (count * 1000) / ms
}

async function time(fn: () => Promise<void> | void): Promise<number> {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

function line(name: string, figure: string, reference: string, ratio: number): void {
  console.log(
    `${name.padEnd(44)} ${figure.padStart(18)}   reference ${reference.padStart(18)}   ratio ${ratio.toFixed(2)}`,
  )
}

async function cryptoBench(): Promise<void> {
  const master = randomBytes(32)
  const db = await openDatabase({ pgliteDir: 'memory://' })
  await migrateToLatest(db)
  const mk = { key: master, id: masterKeyId(master), source: 'env' as const, file: undefined }
  await ensureDataKeys(db, mk)
  const keyring = await loadKeyring(db, mk)
  await db.close()
  const value = randomBytes(1024)
  const n = 50_000
  const ours = await time(() => {
    for (let i = 0; i < n; i++)
      keyring.encrypt('identity', value, { table: 'identity.patient', column: 'name_enc', row: i })
  })
  const key = randomBytes(32)
  const reference = await time(() => {
    for (let i = 0; i < n; i++) {
      const c = createCipheriv('aes-256-gcm', key, randomBytes(12))
      c.update(value)
      c.final()
      c.getAuthTag()
    }
  })
  const mb = (n * value.length) / 1e6
  line(
    'envelope encrypt, 1 KiB values',
    `${(mb / (ours / 1000)).toFixed(0)} MB/s`,
    `${(mb / (reference / 1000)).toFixed(0)} MB/s raw GCM`,
    reference / ours,
  )
  const hashes = await time(() => {
    for (let i = 0; i < n; i++) keyring.keyedHash('blocking:surname', `ヤマダ${i}`)
  })
  const rawHmac = await time(() => {
    for (let i = 0; i < n; i++) createHmac('sha256', key).update(`ヤマダ${i}`).digest()
  })
  line(
    'keyed hash (per-purpose HMAC-SHA-256)',
    `${rate(n, hashes).toFixed(0)} /s`,
    `${rate(n, rawHmac).toFixed(0)} /s raw HMAC`,
    rawHmac / hashes,
  )
}

async function storeBench(db: TokumeiDatabase, label: string): Promise<void> {
  await migrateToLatest(db)
  const master = randomBytes(32)
  const mk = { key: master, id: masterKeyId(master), source: 'env' as const, file: undefined }
  await ensureDataKeys(db, mk)
  const keyring = await loadKeyring(db, mk)
  await sql`create table public.bench_plain (seq bigint primary key, at timestamptz, actor text, action text, detail jsonb, h bytea)`.execute(
    db.kysely,
  )
  const n = label === 'pglite' ? 1000 : 2000
  const audit = await time(async () => {
    for (let i = 0; i < n; i++)
      await recordAuditEvent(db.kysely, keyring, {
        actor: 'system:bench',
        action: 'bench.event',
        detail: { i },
      })
  })
  const plain = await time(async () => {
    for (let i = 0; i < n; i++) {
      await sql`insert into public.bench_plain values (${i}, now(), 'system:bench', 'bench.event', ${JSON.stringify({ i })}::jsonb, ${randomBytes(32)})`.execute(
        db.kysely,
      )
    }
  })
  line(
    `[${label}] audit.record (chained, HMAC, locked)`,
    `${rate(n, audit).toFixed(0)} events/s`,
    `${rate(n, plain).toFixed(0)} inserts/s`,
    plain / audit,
  )
  const verify = await time(async () => {
    const result = await verifyAuditLog(db.kysely, keyring)
    if (!result.ok) throw new Error('bench log does not verify')
  })
  const scan = await time(async () => {
    await sql`select * from public.bench_plain order by seq`.execute(db.kysely)
  })
  line(
    `[${label}] audit verify`,
    `${rate(n, verify).toFixed(0)} events/s`,
    `${rate(n, scan).toFixed(0)} rows/s scan`,
    scan / verify,
  )

  const jobs = n / 2
  for (let i = 0; i < jobs; i++) await enqueueJob(db.kysely, { kind: 'bench' }, { maxAttempts: 3 })
  const queue = await time(async () => {
    for (;;) {
      const job = await claimJob(db.kysely, 'bench', 60, ['bench'])
      if (!job) break
      await completeJob(db.kysely, job, 'bench', {})
    }
  })
  const updates = await time(async () => {
    for (let i = 0; i < jobs; i++) {
      await sql`update public.bench_plain set actor = 'x' where seq = ${i}`.execute(db.kysely)
      await sql`update public.bench_plain set actor = 'y' where seq = ${i}`.execute(db.kysely)
    }
  })
  line(
    `[${label}] job claim + complete`,
    `${rate(jobs, queue).toFixed(0)} jobs/s`,
    `${rate(jobs, updates).toFixed(0)} 2×update/s`,
    updates / queue,
  )
}

async function main(): Promise<void> {
  console.log(
    'tokumei foundation benchmarks (ratio = reference time / our time; 1.00 = as fast as the reference)\n',
  )
  await cryptoBench()
  const embedded = await openDatabase({ pgliteDir: 'memory://' })
  await storeBench(embedded, 'pglite')
  await embedded.close()

  await withBenchServer((server) => storeBench(server, 'postgres'))
}

await main()
