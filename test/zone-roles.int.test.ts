import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Zone } from '../src/config/index.js'
import { loadConfig } from '../src/config/index.js'
import { openDatabase, type TokumeiDatabase } from '../src/db/index.js'
import { addInstitution } from '../src/intake/index.js'
import { enqueueJob } from '../src/jobs/index.js'
import { createWorker, openRuntime } from '../src/runtime/index.js'
import { loadKeyring, masterKeyId, recordAuditEvent, verifyAuditLog } from '../src/security/index.js'
import { buildServer } from '../src/server/index.js'
import { runCli } from './support/cli.js'
import { createServerDatabase, dialects } from './support/database.js'

const PROBE_SCHEMAS = ['intake', 'identity', 'clinical', 'governance', 'jobs'] as const

describe.runIf(dialects().includes('postgres'))(
  '[postgres] zone roles hold the separation of DESIGN §2 in the database',
  () => {
    const prefix = `tkz_${randomBytes(3).toString('hex')}`
    const key = randomBytes(32)
    let server: Awaited<ReturnType<typeof createServerDatabase>>
    let owner: TokumeiDatabase
    const zoneUrl: Partial<Record<Zone, string>> = {}
    const initRoles = () =>
      runCli(['init', '--roles', '--json'], {
        cwd: mkdtempSync(join(tmpdir(), 'tk-roles-')),
        env: {
          DATABASE_URL: server.url,
          TOKUMEI_DB_ROLE_PREFIX: prefix,
          TOKUMEI_MASTER_KEY: key.toString('base64'),
        },
      })

    beforeAll(async () => {
      server = await createServerDatabase()
      const run = await initRoles()
      expect(run.stderr).toBe('')
      expect(run.code).toBe(0)
      const report = JSON.parse(run.stdout) as {
        zoneLogins: Array<{ zone: Zone; role: string; url: string }>
      }
      expect(report.zoneLogins.map((l) => l.role)).toEqual([
        `${prefix}_gateway`,
        `${prefix}_core`,
        `${prefix}_portal`,
      ])
      for (const login of report.zoneLogins) zoneUrl[login.zone] = login.url
      owner = await openDatabase({ url: server.url })
      // One probe table in each schema, created after the grants: default privileges must cover it.
      for (const schema of PROBE_SCHEMAS) {
        await sql`create table ${sql.id(schema, 'probe')} (id int primary key, secret text)`.execute(
          owner.kysely,
        )
        await sql`insert into ${sql.id(schema, 'probe')} values (1, '山田太郎')`.execute(owner.kysely)
      }
    })

    afterAll(async () => {
      await owner?.close()
      const c = new pg.Client({ connectionString: server.url })
      await c.connect()
      for (const zone of ['gateway', 'core', 'portal']) await c.query(`drop owned by ${prefix}_${zone}`)
      await c.end()
      await server.drop()
      const admin = new pg.Client({ connectionString: server.url.replace(`/${server.name}`, '/postgres') })
      await admin.connect()
      for (const zone of ['gateway', 'core', 'portal'])
        await admin.query(`drop role if exists ${prefix}_${zone}`)
      await admin.end()
    })

    async function asZone<T>(zone: Zone, fn: (db: TokumeiDatabase) => Promise<T>): Promise<T> {
      const db = await openDatabase({ url: zoneUrl[zone] as string })
      try {
        return await fn(db)
      } finally {
        await db.close()
      }
    }

    const canSelect = (db: TokumeiDatabase, table: string) =>
      sql`select * from ${sql.id(...table.split('.'))}`.execute(db.kysely).then(
        () => true,
        (error: { code?: string }) => {
          if (error.code !== '42501') throw error
          return false
        },
      )

    it('the gateway role cannot SELECT from identity or clinical, whatever it tries', async () => {
      await asZone('gateway', async (db) => {
        expect(await canSelect(db, 'identity.probe')).toBe(false)
        expect(await canSelect(db, 'clinical.probe')).toBe(false)
        expect(await canSelect(db, 'governance.account')).toBe(false)
        expect(await canSelect(db, 'audit.event')).toBe(false)
        await expect(sql`set role ${sql.id(`${prefix}_core`)}`.execute(db.kysely)).rejects.toThrow(
          /permission denied/,
        )
        await expect(sql`alter table identity.probe disable trigger all`.execute(db.kysely)).rejects.toThrow()
      })
    })

    it('the gateway role does what it is for: writes intake, queues jobs, appends audit events', async () => {
      await asZone('gateway', async (db) => {
        expect(await canSelect(db, 'intake.probe')).toBe(true)
        await sql`insert into intake.probe values (2, 'x')`.execute(db.kysely)
        await db.kysely
          .insertInto('jobs.job')
          .values({ kind: 'system.sleep', payload: '{"ms": 0}', max_attempts: 3 })
          .execute()
        const keyring = await loadKeyring(db, { key, id: masterKeyId(key), source: 'env', file: undefined })
        const event = await recordAuditEvent(db.kysely, keyring, {
          actor: 'institution:1310000001',
          action: 'submission.receive',
        })
        expect(event.seq).toBeGreaterThan(1)
        await expect(sql`delete from intake.probe`.execute(db.kysely)).rejects.toThrow(/permission denied/)
      })
    })

    it('the portal role cannot read identity or clinical data either', async () => {
      await asZone('portal', async (db) => {
        expect(await canSelect(db, 'identity.probe')).toBe(false)
        expect(await canSelect(db, 'clinical.probe')).toBe(false)
        expect(await canSelect(db, 'intake.probe')).toBe(false)
        expect(await canSelect(db, 'governance.probe')).toBe(true)
        expect(await canSelect(db, 'audit.event')).toBe(true)
      })
    })

    it('the core role reads identity and clinical data but no account secret, and cannot rewrite the audit log', async () => {
      await asZone('core', async (db) => {
        expect(await canSelect(db, 'identity.probe')).toBe(true)
        expect(await canSelect(db, 'clinical.probe')).toBe(true)
        expect(await canSelect(db, 'governance.probe')).toBe(true)
        expect(await canSelect(db, 'governance.account')).toBe(false)
        // The monitor judges accounts by role: names and roles only, never a password or a secret.
        await sql`select username, roles from governance.account`.execute(db.kysely)
        await expect(sql`select password_hash from governance.account`.execute(db.kysely)).rejects.toThrow(
          /permission denied/,
        )
        await expect(sql`select totp_secret_enc from governance.account`.execute(db.kysely)).rejects.toThrow(
          /permission denied/,
        )
        // It checks the sessions of the linkage reviewers it serves: reads hashes and times, writes
        // only a session's last use and revocation; it cannot open or re-own a session.
        await sql`select token_sha256, expires_at from governance.session`.execute(db.kysely)
        await sql`update governance.session set last_seen_at = now() where id = 0`.execute(db.kysely)
        await expect(
          sql`update governance.session set account_id = 1 where id = 0`.execute(db.kysely),
        ).rejects.toThrow(/permission denied/)
        await expect(sql`delete from governance.session`.execute(db.kysely)).rejects.toThrow(
          /permission denied/,
        )
        await expect(sql`update audit.event set actor = 'x'`.execute(db.kysely)).rejects.toThrow(
          /permission denied/,
        )
        await expect(sql`delete from audit.event`.execute(db.kysely)).rejects.toThrow(/permission denied/)
        await expect(
          sql`insert into audit.event (seq, at, actor, action, outcome, prev_hash, hash) values (999, now(), 'x', 'y', 'ok', '\\x00', '\\x00')`.execute(
            db.kysely,
          ),
        ).rejects.toThrow(/permission denied/)
      })
    })

    it('a second `init --roles` is idempotent and issues new passwords', async () => {
      const run = await initRoles()
      expect(run.code).toBe(0)
      const report = JSON.parse(run.stdout) as {
        admin: unknown
        zoneLogins: Array<{ zone: Zone; url: string }>
      }
      expect(report.admin).toBeNull()
      for (const login of report.zoneLogins) {
        expect(login.url).not.toBe(zoneUrl[login.zone])
        zoneUrl[login.zone] = login.url
      }
      await asZone('gateway', async (db) => expect(await canSelect(db, 'identity.probe')).toBe(false))
    })

    it('each zone runs as its own role: gateway and portal servers are ready, core workers sign checkpoints', async () => {
      const config = loadConfig({
        env: {
          TOKUMEI_MASTER_KEY: key.toString('base64'),
          TOKUMEI_GATEWAY_DATABASE_URL: zoneUrl.gateway,
          TOKUMEI_CORE_DATABASE_URL: zoneUrl.core,
          TOKUMEI_PORTAL_DATABASE_URL: zoneUrl.portal,
        },
        cwd: mkdtempSync(join(tmpdir(), 'tk-zones-')),
      })
      for (const zone of ['gateway', 'portal'] as const) {
        const runtime = await openRuntime(config, { zone, actor: 'system:test' })
        try {
          const app = await buildServer(runtime, { zone })
          const ready = await app.inject({ method: 'GET', url: '/readyz' })
          expect(ready.statusCode).toBe(200)
          expect((await app.inject({ method: 'GET', url: '/healthz' })).json().zone).toBe(zone)
          await runtime.audit({ action: 'server.start', detail: { zone } })
          await app.close()
        } finally {
          await runtime.close()
        }
      }
      const core = await openRuntime(config, { zone: 'core', actor: 'system:test' })
      try {
        await enqueueJob(core.db.kysely, { kind: 'audit.checkpoint' }, { maxAttempts: 1 })
        const summary = await createWorker(core).run({ untilIdle: true })
        // The gateway's job (above) and the checkpoint.
        expect(summary).toEqual({ done: 2, failed: 0 })
        expect((await verifyAuditLog(core.db.kysely, core.keyring)).ok).toBe(true)
      } finally {
        await core.close()
      }
    })

    it('a gateway server on its own role serves institutions, and no request gets identity or clinical data out', async () => {
      const { key: issued } = await addInstitution(owner.kysely, {
        code: '1310000077',
        name: '区域病院',
        noticeStart: '2020-01-01',
      })
      // Real identity and clinical rows beside the probes, with the same canary.
      await sql`insert into identity.patient (institution_id, local_hash, identity_enc) select id, sha256(convert_to('zone-test', 'UTF8')), convert_to('山田太郎', 'UTF8') from governance.institution where code = '1310000077'`.execute(
        owner.kysely,
      )
      const config = loadConfig({
        env: { TOKUMEI_MASTER_KEY: key.toString('base64'), TOKUMEI_GATEWAY_DATABASE_URL: zoneUrl.gateway },
        cwd: mkdtempSync(join(tmpdir(), 'tk-zones-')),
      })
      const runtime = await openRuntime(config, { zone: 'gateway', actor: 'system:test' })
      try {
        const app = await buildServer(runtime, { zone: 'gateway' })
        const auth = { authorization: `Bearer ${issued.apiKey}` }
        const opened = await app.inject({
          method: 'POST',
          url: '/api/gateway/v1/submissions',
          headers: auth,
          payload: {},
        })
        expect(opened.statusCode).toBe(201)
        const id = opened.json().id as number
        const hostile = [
          '../../identity/patient',
          "x' union select identity_enc from identity.patient --",
          '%00/clinical/probe',
          'ssmix2/000/000/0000000001/-/ADT-00/0000000001_-_ADT-00_999999999999999_20240101000000000_-_1',
        ]
        const bodies: string[] = []
        for (const path of hostile) {
          const q = `path=${encodeURIComponent(path)}`
          for (const request of [
            {
              method: 'PUT' as const,
              url: `/api/gateway/v1/submissions/${id}/files?${q}`,
              payload: Buffer.from('MSH|^~\\&|'),
            },
            { method: 'GET' as const, url: `/api/gateway/v1/submissions/${id}/files?${q}` },
            { method: 'GET' as const, url: `/api/gateway/v1/submissions/${id}?${q}` },
            { method: 'GET' as const, url: `/api/gateway/v1/holdings?${q}` },
            { method: 'GET' as const, url: `/api/gateway/v1/${path}` },
          ]) {
            const res = await app.inject({
              ...request,
              headers: {
                ...auth,
                ...(request.payload ? { 'content-type': 'application/octet-stream' } : {}),
              },
            })
            expect(res.statusCode, `${request.method} ${request.url}`).toBeLessThan(500)
            bodies.push(res.body)
          }
        }
        const sealed = await app.inject({
          method: 'POST',
          url: `/api/gateway/v1/submissions/${id}/seal`,
          headers: auth,
        })
        expect(sealed.statusCode).toBe(200)
        bodies.push(sealed.body)
        // (The hostile paths themselves come back in outcomes: the client's own words, not stored data.)
        const everything = bodies.join('\n')
        expect(everything).not.toContain('山田太郎')
        await app.close()
      } finally {
        await runtime.close()
      }
    })

    it('a zone refused by the database gets one sentence, not a stack trace', async () => {
      // Misconfigured: the gateway's login where the core's belongs; the gateway may not read the audit log.
      const run = await runCli(['audit', 'verify'], {
        cwd: mkdtempSync(join(tmpdir(), 'tk-zones-')),
        env: { TOKUMEI_MASTER_KEY: key.toString('base64'), TOKUMEI_CORE_DATABASE_URL: zoneUrl.gateway },
      })
      expect(run.code).toBe(2)
      expect(run.stderr).toBe(
        'tokumei: The database refused this operation to the role in use (permission denied): this zone may not do it, or it needs the owner connection (DATABASE_URL).\n',
      )
    })
  },
)
