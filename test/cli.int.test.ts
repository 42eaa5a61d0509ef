import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase, type TokumeiDatabase } from '../src/db/index.js'
import { loadKeyring, masterKeyId, recordAuditEvent } from '../src/security/index.js'
import { execCli, spawnCli, waitForOutput } from './support/cli.js'
import { createServerDatabase, dialects } from './support/database.js'

const fresh = () => mkdtempSync(join(tmpdir(), 'tk-cli-'))
const stackTrace = /^\s+at .+\(.*:\d+:\d+\)$/m

describe('tokumei on a machine with no configuration (the embedded default)', () => {
  const cwd = fresh()

  it('init creates the key file (0600), the database and a first admin whose password is shown once', async () => {
    const first = await execCli(['init'], { cwd })
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toContain('Initialised tokumei on the embedded database')
    const password = /One-time password:\s+(\S+)/.exec(first.stdout)?.[1]
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/)
    expect(statSync(join(cwd, 'data', 'master.key')).mode & 0o777).toBe(0o600)
    expect(existsSync(join(cwd, 'tokumei.yaml'))).toBe(true)

    const again = await execCli(['init'], { cwd })
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('already initialised')
    expect(again.stdout).not.toContain(password)
    expect(again.stdout).not.toContain('One-time password')
  })

  it('serve answers /healthz, stops on SIGTERM, and the audit log records it all intact', async () => {
    const server = spawnCli(['serve', '--port', '0'], { cwd })
    const [, url] = (await waitForOutput(
      server,
      /serves all zones on (http:\/\/[\d.:]+)/,
    )) as RegExpMatchArray
    const health = await fetch(`${url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'ok', zone: 'all' })
    const exited = new Promise<number | null>((resolve) => server.on('close', resolve))
    server.kill('SIGTERM')
    expect(await exited).toBe(0)

    const verify = await execCli(['audit', 'verify'], { cwd })
    expect(verify.code).toBe(0)
    expect(verify.stdout).toMatch(/^Audit log intact: \d+ event\(s\)/)
    const tail = await execCli(['audit', 'tail', '--json'], { cwd })
    const actions = tail.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).action)
    expect(actions).toEqual(['account.create', 'system.init', 'server.start', 'server.stop'])
  })

  it('a second process on the same embedded database is refused with one sentence', async () => {
    const server = spawnCli(['serve', '--port', '0', '--no-workers'], { cwd })
    await waitForOutput(server, /serves all zones/)
    const second = await execCli(['keys', 'status'], { cwd })
    server.kill('SIGTERM')
    expect(second.code).toBe(2)
    expect(second.stderr).toMatch(
      /^tokumei: The embedded database in .* is in use by process \d+: stop that process first/,
    )
  })

  it('serve says so in one sentence when its port is taken', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as AddressInfo).port
    const run = await execCli(['serve', '--port', String(port)], { cwd })
    blocker.close()
    expect(run.code).toBe(2)
    expect(run.stderr).toBe(
      `tokumei: Cannot listen: port ${port} on 127.0.0.1 is already in use: stop the other server or choose another with --port or TOKUMEI_PORT.\n`,
    )
  })

  it('keys rotate only records a request: one person alone changes no key', async () => {
    const before = readFileSync(join(cwd, 'data', 'master.key'), 'utf8')
    const rotate = await execCli(['keys', 'rotate', '--json'], { cwd })
    expect(rotate.code).toBe(0)
    expect(JSON.parse(rotate.stdout)).toMatchObject({ kind: 'keys.rotate', state: 'open' })
    expect(readFileSync(join(cwd, 'data', 'master.key'), 'utf8')).toBe(before)
    expect((await execCli(['audit', 'verify'], { cwd })).code).toBe(0)
  })
})

describe('tokumei errors: one sentence, exit 2, no stack trace', () => {
  const cwd = fresh()

  it('for a bad configuration value', async () => {
    const run = await execCli(['audit', 'verify'], { cwd, env: { TOKUMEI_PORT: 'eighty' } })
    expect(run.code).toBe(2)
    expect(run.stderr).toBe(
      'tokumei: Invalid configuration: TOKUMEI_PORT must be an integer from 0 to 65535 (got "eighty").\n',
    )
    expect(run.stdout).toBe('')
  })

  it('for an unreachable DATABASE_URL, without echoing its password', async () => {
    const run = await execCli(['init'], {
      cwd,
      env: { DATABASE_URL: 'postgresql://admin:s3cret-pw@127.0.0.1:1/tokumei' },
    })
    expect(run.code).toBe(2)
    expect(run.stderr).toBe(
      'tokumei: Cannot connect to the PostgreSQL server at 127.0.0.1:1/tokumei (connection refused): check that it is running and that DATABASE_URL is right.\n',
    )
    expect(run.stderr).not.toMatch(stackTrace)
  })

  it('for a command run before init', async () => {
    const run = await execCli(['audit', 'verify', '--json'], { cwd: fresh() })
    expect(run.code).toBe(2)
    expect(JSON.parse(run.stdout).error.code).toBe('db.not_initialised')
    expect(run.stderr).toMatch(/^tokumei: There is no tokumei database in .*: run `tokumei init` first/)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('for bad usage', async () => {
    const unknown = await execCli(['frobnicate'], { cwd })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("unknown command 'frobnicate'")
    const zone = await execCli(['serve', '--zone', 'dmz'], { cwd })
    expect(zone.code).toBe(2)
    expect(zone.stderr).toBe('tokumei: --zone must be one of gateway, core, portal (got "dmz").\n')
    const help = await execCli(['--help'], { cwd })
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('audit')
  })
})

describe.runIf(dialects().includes('postgres'))(
  '[postgres] tokumei audit verify after a superuser tampered with the log',
  () => {
    const key = randomBytes(32)
    const cwd = fresh()
    let server: Awaited<ReturnType<typeof createServerDatabase>>
    let db: TokumeiDatabase
    let env: Record<string, string>

    beforeAll(async () => {
      server = await createServerDatabase()
      env = { DATABASE_URL: server.url, TOKUMEI_MASTER_KEY: key.toString('base64') }
      expect((await execCli(['init'], { cwd, env })).code).toBe(0)
      db = await openDatabase({ url: server.url })
    })
    afterAll(async () => {
      await db?.close()
      await server?.drop()
    })

    /** A fresh chain of 2 + 10 events, then the attack, run as the superuser with the trigger disabled. */
    async function tamper(statements: string[]): Promise<void> {
      await sql
        .raw(
          'alter table audit.event disable trigger user; alter table audit.checkpoint disable trigger user',
        )
        .execute(db.kysely)
      await sql.raw('delete from audit.checkpoint; delete from audit.event where seq > 2').execute(db.kysely)
      await sql
        .raw('alter table audit.event enable trigger user; alter table audit.checkpoint enable trigger user')
        .execute(db.kysely)
      const keyring = await loadKeyring(db, { key, id: masterKeyId(key), source: 'env', file: undefined })
      for (let i = 0; i < 10; i++) {
        await recordAuditEvent(db.kysely, keyring, {
          actor: 'os:operator@core',
          action: 'test.event',
          detail: { i },
        })
      }
      await sql
        .raw(
          `alter table audit.event disable trigger user; ${statements.join('; ')}; alter table audit.event enable trigger user`,
        )
        .execute(db.kysely)
    }

    it('exits 0 on the intact log', async () => {
      await tamper([])
      const run = await execCli(['audit', 'verify'], { cwd, env })
      expect(run.stdout).toBe('Audit log intact: 12 event(s), 0 signed checkpoint(s).\n')
      expect(run.code).toBe(0)
    })

    it.each([
      ['a modified event', [`update audit.event set actor = 'os:someone-else@core' where seq = 7`], 7],
      ['a deleted event', ['delete from audit.event where seq = 5'], 5],
      [
        'an inserted event',
        [
          'update audit.event set seq = seq + 100 where seq >= 9',
          'update audit.event set seq = seq - 99 where seq >= 100',
          `insert into audit.event (seq, at, actor, action, outcome, detail, prev_hash, hash)
         select 9, now(), 'os:intruder@core', 'test.event', 'ok', '{}', hash, hash from audit.event where seq = 8`,
        ],
        9,
      ],
      [
        'two reordered events',
        [
          'update audit.event set seq = 1000 where seq = 4',
          'update audit.event set seq = 4 where seq = 6',
          'update audit.event set seq = 6 where seq = 1000',
        ],
        4,
      ],
    ])('exits 1 and names the first bad sequence number for %s', async (_name, statements, firstBad) => {
      await tamper(statements as string[])
      const run = await execCli(['audit', 'verify'], { cwd, env })
      expect(run.code).toBe(1)
      expect(run.stdout.split('\n')[0]).toBe(`Audit log TAMPERED: the first bad event is ${firstBad}.`)
      const json = await execCli(['audit', 'verify', '--json'], { cwd, env })
      expect(json.code).toBe(1)
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, firstBadSeq: firstBad })
    })

    it('process stops gracefully on SIGTERM, finishing the job in hand', async () => {
      const enqueue = await execCli(
        ['jobs', 'enqueue', 'system.sleep', '--payload', '{"ms": 1500}', '--json'],
        { cwd, env },
      )
      const { id } = JSON.parse(enqueue.stdout) as { id: number }
      const worker = spawnCli(['process'], { cwd, env })
      const exited = new Promise<number | null>((resolve) => worker.on('close', resolve))
      for (let i = 0; i < 200; i++) {
        const row = await db.kysely
          .selectFrom('jobs.job')
          .select('status')
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
        if (row.status === 'running') break
        await new Promise((r) => setTimeout(r, 50))
      }
      worker.kill('SIGTERM')
      expect(await exited).toBe(0)
      const row = await db.kysely
        .selectFrom('jobs.job')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
      expect(row.status).toBe('done')
      expect(row.result).toMatchObject({ slept_ms: 1500, stop_requested: true })
      const event = await db.kysely
        .selectFrom('audit.event')
        .selectAll()
        .where('target', '=', `job:${id}`)
        .where('action', '=', 'job.done')
        .executeTakeFirst()
      expect(event?.detail).toMatchObject({ kind: 'system.sleep', attempt: 1 })
    })
  },
)

describe('tokumei synth', () => {
  it('writes a small data set and its truth, and says so', async () => {
    const cwd = fresh()
    const run = await execCli(
      [
        'synth',
        '--persons',
        '30',
        '--hospitals',
        '2',
        '--seed',
        '7',
        '--formats',
        'fhir,uke',
        '--out',
        'out',
        '--json',
      ],
      { cwd },
    )
    expect(run.code).toBe(0)
    const report = JSON.parse(run.stdout)
    expect(report).toMatchObject({ persons: 30, formats: ['uke', 'fhir'] })
    expect(report.hospitals).toHaveLength(2)
    expect(readFileSync(join(cwd, 'out', 'truth', 'persons.csv'), 'utf8').split('\n')[0]).toBe(
      'person_id,institution_code,local_patient_id',
    )
    expect(existsSync(join(cwd, 'out', report.hospitals[0].code, 'fhir', 'Patient.ndjson'))).toBe(true)
    expect(existsSync(join(cwd, 'out', report.hospitals[0].code, 'ssmix2'))).toBe(false)
  })

  it('refuses a non-empty directory, an unknown format and a bad count, each in one sentence', async () => {
    const cwd = fresh()
    expect((await execCli(['synth', '--persons', '5', '--out', '.'], { cwd })).code).toBe(0)
    const again = await execCli(['synth', '--persons', '5', '--out', '.'], { cwd })
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(
      /^tokumei: .* is not empty: choose an empty or new directory for the synthetic data\.\n$/,
    )
    const format = await execCli(['synth', '--formats', 'hl7,fhir', '--out', 'x'], { cwd })
    expect(format.stderr).toBe('tokumei: --formats takes ssmix2, uke, fhir, dicom, notes (got "hl7,fhir").\n')
    const count = await execCli(['synth', '--persons', 'lots', '--out', 'y'], { cwd })
    expect(count.code).toBe(2)
    expect(count.stderr).toBe('tokumei: --persons must be a whole number from 1 to 100000000 (got "lots").\n')
  })
})

describe('tokumei text', () => {
  it('scrubs with the registry’s institution names when asked, and measures itself on synthetic notes', async () => {
    const cwd = fresh()
    expect((await execCli(['init'], { cwd })).code).toBe(0)
    const add = await execCli(
      [
        'institution',
        'add',
        '--code',
        '1312345678',
        '--name',
        'さくらメディカルプラザ',
        '--notice-start',
        '2024-04-01',
      ],
      { cwd },
    )
    expect(add.code).toBe(0)
    writeFileSync(join(cwd, 'note.txt'), 'さくらメディカルプラザより紹介。')
    // No pattern knows 「…プラザ」: only the registry names it.
    const plain = await execCli(['text', 'scrub', '--input', 'note.txt'], { cwd })
    expect(plain.stdout).toBe('さくらメディカルプラザより紹介。')
    const registry = await execCli(['text', 'scrub', '--input', 'note.txt', '--registry'], { cwd })
    expect(registry.code).toBe(0)
    expect(registry.stdout).toBe('［医療機関］より紹介。')

    expect(
      (
        await execCli(
          ['synth', '--persons', '40', '--hospitals', '2', '--formats', 'notes', '--out', 'synth'],
          { cwd },
        )
      ).code,
    ).toBe(0)
    const evaluation = await execCli(['text', 'evaluate', 'synth', '--json'], { cwd })
    expect(evaluation.code).toBe(0)
    const figures = JSON.parse(evaluation.stdout)
    expect(figures.recall).toBe(1)
    expect(figures.identifiers).toBeGreaterThan(100)
    // Figures, kinds and lengths only: no identifier of the notes is ever printed.
    for (const canary of readFileSync(join(cwd, 'synth', 'truth', 'canaries.txt'), 'utf8').split('\n'))
      if (canary.length >= 2) expect(evaluation.stdout).not.toContain(canary)
    const missing = await execCli(['text', 'evaluate', 'nowhere'], { cwd })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^tokumei: .*note-identifiers\.jsonl does not exist/)
  }, 60_000)
})
