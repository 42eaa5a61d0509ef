import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateSync } from 'otplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase, type TokumeiDatabase } from '../src/db/index.js'
import { authContext, operatorActor } from '../src/runtime/index.js'
import { createAccount, requestApproval, setUpAccount } from '../src/security/index.js'
import { runCli } from './support/cli.js'
import { describeEachDialect } from './support/database.js'
import { startTestServer, type TestServer } from './support/server.js'

/**
 * Two-person control from the command line, as scripts run it (every secret from a file or an
 * option, no prompt): on the core host, and through a server's API with `tokumei login`.
 */
const PASSWORD = 'sakura-no-hana-ga-saku'
const totp = (secret: string, step: number) =>
  generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + 30 * step })

describe('tokumei keys rotate + approve on the core host', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tk-approve-'))
  const run = (...args: string[]) => runCli(args, { cwd })
  const passwordFile = join(cwd, 'password.txt')
  const secrets = new Map<string, string>()

  beforeAll(async () => {
    expect((await run('init')).code).toBe(0)
    writeFileSync(passwordFile, `${PASSWORD}\n`)
    for (const [username, roles] of [
      ['kato.ken', 'admin'],
      ['sano.yui', 'reviewer'],
    ] as const) {
      const { code } = JSON.parse((await run('account', 'add', username, '--roles', roles, '--json')).stdout)
      const setup = await run(
        'account',
        'setup',
        username,
        '--code',
        code,
        '--password-file',
        passwordFile,
        '--json',
      )
      secrets.set(username, JSON.parse(setup.stdout).secret)
    }
  })

  it('records a request; another person with the role approves it with password and code, and the key turns', async () => {
    const keyFile = join(cwd, 'data', 'master.key')
    const before = readFileSync(keyFile, 'utf8')
    const asked = await run('keys', 'rotate', '--data-keys', '--json')
    expect(asked.code).toBe(0)
    const request = JSON.parse(asked.stdout) as { id: number; state: string; kind: string }
    expect(request).toMatchObject({ kind: 'keys.rotate', state: 'open' })
    expect(readFileSync(keyFile, 'utf8')).toBe(before)
    expect((await run('keys', 'rotate')).stderr).toContain(`Request ${request.id} to rotate the master key`)

    const listed = JSON.parse((await run('approvals', 'list', '--json')).stdout) as Array<{ id: number }>
    expect(listed.map((a) => a.id)).toEqual([request.id])

    const approve = (username: string, code: string) =>
      run(
        'approve',
        String(request.id),
        '--user',
        username,
        '--password-file',
        passwordFile,
        '--code',
        code,
        '--json',
      )
    // Without a terminal, a missing code is an error that says what to pass — never a wait.
    const noCode = await run(
      'approve',
      String(request.id),
      '--user',
      'kato.ken',
      '--password-file',
      passwordFile,
    )
    expect(noCode.code).toBe(2)
    expect(noCode.stderr).toBe('tokumei: Give the 6-digit code of your authenticator app with --code CODE.\n')
    const reviewer = await approve('sano.yui', totp(secrets.get('sano.yui') as string, 0))
    expect(reviewer.code).toBe(2)
    expect(JSON.parse(reviewer.stdout).error.code).toBe('approval.forbidden')
    const wrong = await approve('kato.ken', '000000')
    expect(wrong.code).toBe(2)
    expect(JSON.parse(wrong.stdout).error.code).toBe('auth.failed')
    expect(readFileSync(keyFile, 'utf8')).toBe(before)

    const approved = await approve('kato.ken', totp(secrets.get('kato.ken') as string, 0))
    expect(approved.code).toBe(0)
    const done = JSON.parse(approved.stdout)
    expect(done).toMatchObject({ state: 'done', approvedBy: 'account:kato.ken' })
    expect(done.result.rewrapped).toBeGreaterThan(0)
    expect(done.result.addedDataKeys.length).toBeGreaterThan(0)
    expect(readFileSync(keyFile, 'utf8')).not.toBe(before)
    // Everything still opens under the new key, and the log (with the approval) verifies.
    expect((await run('audit', 'verify')).code).toBe(0)
    const events = (await run('audit', 'tail', '--lines', '20', '--json')).stdout
    for (const action of [
      'approval.requested',
      'auth.verify',
      'approval.approved',
      'keys.rotate',
      'approval.done',
    ])
      expect(events).toContain(action)
  })
})

describe('a core-host operator blocked by the monitor', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tk-blocked-'))
  const run = (...args: string[]) => runCli(args, { cwd })

  it('runs no command until the block is lifted', async () => {
    expect((await run('init')).code).toBe(0)
    const block = async (db: TokumeiDatabase, lift: boolean) => {
      if (lift) {
        await db.kysely
          .updateTable('governance.block')
          .set({ lifted_by: 'account:x', lifted_at: new Date() })
          .execute()
        return
      }
      const alert = await db.kysely
        .insertInto('governance.alert')
        .values({ rule: 'vault-read-outside-job', subject: operatorActor(), message: 'test', event_seq: 1 })
        .returning('id')
        .executeTakeFirstOrThrow()
      await db.kysely
        .insertInto('governance.block')
        .values({ subject: operatorActor(), alert_id: alert.id })
        .execute()
    }
    const db = await openDatabase({ pgliteDir: join(cwd, 'data', 'db') })
    try {
      await block(db, false)
    } finally {
      await db.close()
    }
    const refused = await run('jobs', 'status')
    expect(refused.code).toBe(2)
    expect(refused.stderr).toBe(
      `tokumei: ${operatorActor()} is blocked by the monitor: two other people must lift the block (\`tokumei alerts\`, \`tokumei unblock\`).\n`,
    )
    const again = await openDatabase({ pgliteDir: join(cwd, 'data', 'db') })
    try {
      await block(again, true)
    } finally {
      await again.close()
    }
    expect((await run('jobs', 'status')).code).toBe(0)
  })
})

describe('tokumei schedule + tokumei monitor --once on the core host', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tk-schedule-'))
  const run = (...args: string[]) => runCli(args, { cwd })

  it('an operator whose hours the agency withdrew is blocked at the next pass', async () => {
    expect((await run('init')).code).toBe(0)
    // The first pass places the monitor at the present.
    expect((await run('monitor', '--once')).stdout).toBe('0 new alert(s); 0 posted to the webhook.\n')
    const listed = JSON.parse((await run('schedule', 'list', '--json')).stdout) as {
      timeZone: string
      entries: Array<{ id: number; who: string }>
    }
    expect(listed.timeZone).toBe('Asia/Tokyo')
    expect(listed.entries.map((e) => e.who)).toEqual(['os:*', 'account:*', 'institution:*'])
    const bad = await run('schedule', 'add', '--who', 'os:*', '--hours', '9-18')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe(
      'tokumei: "9-18" is not a period of the day: write HH:MM-HH:MM, e.g. 09:00-18:00.\n',
    )
    // Only another operator, at night: this one's own commands are no longer scheduled.
    expect((await run('schedule', 'add', '--who', 'os:night@core9', '--hours', '22:00-06:00')).code).toBe(0)
    expect((await run('schedule', 'remove', String(listed.entries[0]?.id))).code).toBe(0)
    const pass = await run('monitor', '--once', '--json')
    expect(JSON.parse(pass.stdout).hits).toEqual([
      expect.objectContaining({ rule: 'outside-schedule', subject: operatorActor(), block: true }),
    ])
    expect((await run('schedule', 'list')).stderr).toContain('is blocked by the monitor')
  })
})

describeEachDialect('tokumei login / approve through --server', (t) => {
  let server: TestServer
  let url: string
  const dir = mkdtempSync(join(tmpdir(), 'tk-remote-'))
  const passwordFile = join(dir, 'password.txt')
  const secrets = new Map<string, string>()
  const as = (who: string) => ({ TOKUMEI_SESSION_FILE: join(dir, `${who}.sessions.json`) })
  const run = (who: string, ...args: string[]) =>
    runCli([...args, '--server', url], { cwd: dir, env: as(who) })

  beforeAll(async () => {
    server = await startTestServer(t)
    await server.app.listen({ port: 0, host: '127.0.0.1' })
    url = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`
    writeFileSync(passwordFile, `${PASSWORD}\n`)
    for (const username of ['abe.jun', 'baba.rei']) {
      const { code } = await createAccount(authContext(server.runtime), {
        username,
        roles: ['security_officer'],
        actor: 'test',
      })
      secrets.set(
        username,
        (await setUpAccount(authContext(server.runtime), { username, code, password: PASSWORD })).secret,
      )
    }
  })
  afterAll(async () => {
    await server?.app.close()
  })

  const login = (who: string) =>
    run(
      who,
      'login',
      '--user',
      who,
      '--password-file',
      passwordFile,
      '--code',
      totp(secrets.get(who) as string, -1),
    )

  it('signs in, lists alerts, asks for a lift, and only another person approves it', async () => {
    const alert = await t.db.kysely
      .insertInto('governance.alert')
      .values({ rule: 'outside-schedule', subject: 'account:ghost', message: 'test block', event_seq: 1 })
      .returning('id')
      .executeTakeFirstOrThrow()
    const block = await t.db.kysely
      .insertInto('governance.block')
      .values({ subject: 'account:ghost', alert_id: alert.id })
      .returning('id')
      .executeTakeFirstOrThrow()

    expect((await run('abe.jun', 'alerts')).stderr).toBe(
      `tokumei: Not signed in to ${url}: run \`tokumei login --server ${url}\` first.\n`,
    )
    const signedIn = await login('abe.jun')
    expect(signedIn.code).toBe(0)
    expect(signedIn.stdout).toContain(`Signed in to ${url} as abe.jun`)
    // The session file is its owner's alone.
    expect(statSync(as('abe.jun').TOKUMEI_SESSION_FILE).mode & 0o777).toBe(0o600)

    const alerts = JSON.parse((await run('abe.jun', 'alerts', '--json')).stdout) as Array<{ id: number }>
    expect(alerts.map((a) => a.id)).toContain(alert.id)
    const asked = await run('abe.jun', 'unblock', String(block.id), '--json')
    expect(asked.code).toBe(0)
    const request = JSON.parse(asked.stdout) as { id: number; requestedBy: string }
    expect(request.requestedBy).toBe('account:abe.jun')

    const self = await run(
      'abe.jun',
      'approve',
      String(request.id),
      '--code',
      totp(secrets.get('abe.jun') as string, 0),
    )
    expect(self.code).toBe(2)
    expect(self.stderr).toContain('needs a different person')

    expect((await login('baba.rei')).code).toBe(0)
    const approved = await run(
      'baba.rei',
      'approve',
      String(request.id),
      '--code',
      totp(secrets.get('baba.rei') as string, 0),
      '--json',
    )
    expect(approved.code).toBe(0)
    expect(JSON.parse(approved.stdout)).toMatchObject({ state: 'done', approvedBy: 'account:baba.rei' })
    const lifted = await t.db.kysely
      .selectFrom('governance.block')
      .select(['lifted_by', 'lift_requested_by'])
      .where('id', '=', block.id)
      .executeTakeFirstOrThrow()
    expect(lifted).toEqual({ lifted_by: 'account:baba.rei', lift_requested_by: 'account:abe.jun' })
  })

  it('leaves key rotation to the core host, refuses core-only commands, and forgets the session on logout', async () => {
    const rotation = await requestApproval(
      { db: t.db.kysely, keyring: t.keyring, actor: 'os:operator@core' },
      { kind: 'keys.rotate', target: 'kek:test' },
    )
    const remote = await run('baba.rei', 'approve', String(rotation.id), '--code', '123456', '--json')
    expect(remote.code).toBe(2)
    expect(JSON.parse(remote.stdout).error.code).toBe('approval.core_only')

    const coreOnly = await run('baba.rei', 'jobs', 'status')
    expect(coreOnly.code).toBe(2)
    expect(coreOnly.stderr).toContain('`tokumei jobs status` runs on the core host only')

    expect((await run('baba.rei', 'logout')).code).toBe(0)
    expect(readFileSync(as('baba.rei').TOKUMEI_SESSION_FILE, 'utf8')).not.toContain('127.0.0.1')
    expect((await run('baba.rei', 'approvals', 'list')).stderr).toContain('Not signed in')
  })
})
