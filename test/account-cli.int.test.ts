import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from './support/cli.js'

describe('tokumei account', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tk-account-'))
  const run = (...args: string[]) => runCli(args, { cwd })

  it('adds an account, its owner sets it up, an admin resets and disables it', async () => {
    expect((await run('init')).code).toBe(0)
    const added = await run('account', 'add', 'mori.aoi', '--roles', 'anonymization_engineer', '--json')
    expect(added.code).toBe(0)
    const { code } = JSON.parse(added.stdout) as { code: string }
    expect(code).toMatch(/^[A-Za-z0-9]{24}$/)

    const passwordFile = join(cwd, 'password.txt')
    writeFileSync(passwordFile, 'short\n')
    const weak = await run('account', 'setup', 'mori.aoi', '--code', code, '--password-file', passwordFile)
    expect(weak.code).toBe(2)
    expect(weak.stderr).toMatch(/^tokumei: The password must have at least 12 characters/)
    writeFileSync(passwordFile, 'kawa-no-nagare-wa-taezu\n')
    const setup = await run(
      'account',
      'setup',
      'mori.aoi',
      '--code',
      code,
      '--password-file',
      passwordFile,
      '--json',
    )
    expect(setup.code).toBe(0)
    expect(JSON.parse(setup.stdout).uri).toMatch(
      /^otpauth:\/\/totp\/tokumei:mori\.aoi\?secret=[A-Z2-7]+&issuer=tokumei$/,
    )

    const list = JSON.parse((await run('account', 'list', '--json')).stdout) as Array<Record<string, unknown>>
    expect(list.find((a) => a.username === 'mori.aoi')).toMatchObject({
      roles: ['anonymization_engineer'],
      setUp: true,
      secondFactor: false,
      disabled: false,
    })
    const reset = await run('account', 'reset', 'mori.aoi', '--json')
    expect(JSON.parse(reset.stdout).code).not.toBe(code)
    expect((await run('account', 'disable', 'mori.aoi')).stdout).toContain('disabled')
    const after = JSON.parse((await run('account', 'list', '--json')).stdout) as Array<
      Record<string, unknown>
    >
    expect(after.find((a) => a.username === 'mori.aoi')).toMatchObject({ setUp: false, disabled: true })
    const missing = await run('account', 'reset', 'nobody.here')
    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe('tokumei: No account "nobody.here": see `tokumei account list`.\n')
  })
})
