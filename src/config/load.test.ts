import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { tokumeiErrorOf } from '../../test/support/errors.js'
import { describeConfig, loadConfig } from './index.js'

const dir = () => mkdtempSync(join(tmpdir(), 'tk-config-'))

describe('loadConfig', () => {
  it('uses the defaults with no file and no environment', () => {
    const cwd = dir()
    const config = loadConfig({ env: {}, cwd })
    expect(config.dataDir).toBe(join(cwd, 'data'))
    expect(config.masterKey.file).toBe(join(cwd, 'data', 'master.key'))
    expect(config.database.url).toBeUndefined()
    expect(config.server).toEqual({ host: '127.0.0.1', port: 8080 })
    expect(config.sources['server.port']).toBe('default')
    expect(config.configFile).toBeUndefined()
  })

  it('reads tokumei.yaml relative to the file and lets the environment win', () => {
    const cwd = dir()
    writeFileSync(
      join(cwd, 'tokumei.yaml'),
      'dataDir: store\nserver:\n  port: 9000\n  host: 0.0.0.0\nlog:\n  level: warn\n',
    )
    const config = loadConfig({ env: { TOKUMEI_PORT: '9100' }, cwd })
    expect(config.configFile).toBe(join(cwd, 'tokumei.yaml'))
    expect(config.dataDir).toBe(join(cwd, 'store'))
    expect(config.server).toEqual({ host: '0.0.0.0', port: 9100 })
    expect(config.log.level).toBe('warn')
    expect(config.sources['server.port']).toBe('env')
    expect(config.sources['server.host']).toBe('file')
  })

  it('names the environment variable and the expected form of a bad value', () => {
    const error = tokumeiErrorOf(() => loadConfig({ env: { TOKUMEI_PORT: 'eighty' }, cwd: dir() }))
    expect(error.message).toBe(
      'Invalid configuration: TOKUMEI_PORT must be an integer from 0 to 65535 (got "eighty").',
    )
    expect(error.exitCode).toBe(2)
    expect(error.code).toBe('config.invalid')
  })

  it('takes the linkage weights from the environment, and refuses a review weight above the link weight', () => {
    const config = loadConfig({
      env: { TOKUMEI_LINK_WEIGHT: '8', TOKUMEI_REVIEW_WEIGHT: '-10.5' },
      cwd: dir(),
    })
    expect(config.identity).toMatchObject({ linkWeight: 8, reviewWeight: -10.5 })
    expect(loadConfig({ env: {}, cwd: dir() }).identity).toMatchObject({ linkWeight: -2, reviewWeight: -8 })
    const error = tokumeiErrorOf(() => loadConfig({ env: { TOKUMEI_REVIEW_WEIGHT: '0' }, cwd: dir() }))
    expect(error.message).toBe(
      'Invalid configuration: identity.reviewWeight (0) is above identity.linkWeight (-2); pairs between the two go to review.',
    )
    expect(error.exitCode).toBe(2)
  })

  it('names the file, key and line of a bad value in tokumei.yaml', () => {
    const cwd = dir()
    writeFileSync(join(cwd, 'tokumei.yaml'), '# comment\nlog:\n  level: loud\n')
    const error = tokumeiErrorOf(() => loadConfig({ env: {}, cwd }))
    expect(error.message).toBe(
      `Invalid configuration: log.level in ${join(cwd, 'tokumei.yaml')} line 3 must be one of fatal, error, warn, info, debug, trace, silent (got "loud").`,
    )
  })

  it('refuses unknown keys and broken YAML with the line', () => {
    const cwd = dir()
    writeFileSync(join(cwd, 'tokumei.yaml'), 'server:\n  prot: 80\n')
    expect(tokumeiErrorOf(() => loadConfig({ env: {}, cwd })).message).toMatch(
      /^Unknown setting "server.prot" in .* line 2/,
    )
    writeFileSync(join(cwd, 'tokumei.yaml'), 'server:\n  port: [80\n')
    expect(tokumeiErrorOf(() => loadConfig({ env: {}, cwd })).message).toMatch(/is not valid YAML at line \d/)
  })

  it('never echoes a secret in an error', () => {
    const error = tokumeiErrorOf(() =>
      loadConfig({ env: { DATABASE_URL: 'mysql://u:hunter2@db/x' }, cwd: dir() }),
    )
    expect(error.message).toMatch(
      /^Invalid configuration: DATABASE_URL must be a URL of the form postgresql:/,
    )
    expect(error.message).not.toContain('hunter2')
    const keyError = tokumeiErrorOf(() =>
      loadConfig({ env: { TOKUMEI_MASTER_KEY: 'short-secret' }, cwd: dir() }),
    )
    expect(keyError.message).not.toContain('short-secret')
  })

  it('fails clearly when an explicit configuration file is missing', () => {
    const cwd = dir()
    expect(tokumeiErrorOf(() => loadConfig({ env: { TOKUMEI_CONFIG: 'nope.yaml' }, cwd })).message).toContain(
      `${join(cwd, 'nope.yaml')} does not exist`,
    )
  })

  it('hides passwords and keys in describeConfig', () => {
    const config = loadConfig({
      env: {
        DATABASE_URL: 'postgresql://admin:hunter2@db.example:5432/tokumei',
        TOKUMEI_MASTER_KEY: `${'A'.repeat(43)}=`,
      },
      cwd: dir(),
    })
    const shown = JSON.stringify(describeConfig(config))
    expect(shown).not.toContain('hunter2')
    expect(shown).not.toContain('AAAAAAAA')
    expect(shown).toContain('db.example')
  })

  it('accepts every valid port and refuses every other integer text', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 200_000 }), (port) => {
        const run = () => loadConfig({ env: { TOKUMEI_PORT: String(port) }, cwd: '/' })
        if (port >= 0 && port <= 65535) expect(run().server.port).toBe(port)
        else expect(run).toThrow(/TOKUMEI_PORT must be an integer from 0 to 65535/)
      }),
    )
  })
})
