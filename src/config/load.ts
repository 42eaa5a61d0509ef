import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml'
import { TokumeiError } from '../model/index.js'
import { type LOG_LEVELS, SETTINGS, type SettingSpec } from './settings.js'

export type LogLevel = (typeof LOG_LEVELS)[number]
export type Zone = 'gateway' | 'core' | 'portal'
export const ZONES: readonly Zone[] = ['gateway', 'core', 'portal']

export type SettingSource = 'default' | 'file' | 'env'

export interface Config {
  readonly dataDir: string
  readonly database: {
    readonly url: string | undefined
    readonly rolePrefix: string
    readonly zoneUrls: Readonly<Partial<Record<Zone, string>>>
  }
  readonly masterKey: { readonly file: string; readonly value: string | undefined }
  readonly server: { readonly host: string; readonly port: number }
  readonly log: { readonly level: LogLevel }
  readonly jobs: { readonly pollMs: number; readonly leaseSeconds: number; readonly maxAttempts: number }
  readonly audit: { readonly checkpointSeconds: number }
  readonly intake: IntakeSettings
  readonly auth: AuthSettings
  readonly monitor: MonitorSettings
  readonly identity: IdentitySettings
  /** The YAML file that was read, if any. */
  readonly configFile: string | undefined
  /** Where each setting's value came from, by dotted path. */
  readonly sources: Readonly<Record<string, SettingSource>>
}

export interface IdentitySettings {
  /** The 異体字 list (absolute path); undefined: the shared data's, or the built-in pairs. */
  readonly variantList: string | undefined
  /** Match weights (log2 odds): linked from `linkWeight`, reviewed from `reviewWeight`. */
  readonly linkWeight: number
  readonly reviewWeight: number
}

export interface MonitorSettings {
  readonly failedLogins: number
  readonly windowMinutes: number
  /** CIDR blocks sessions may come from; empty: any. */
  readonly allowedNetworks: readonly string[]
  readonly volumeMinimum: number
  readonly volumeFactor: number
  readonly baselineDays: number
  /** Where alerts are posted; undefined: stored only. */
  readonly webhookUrl: string | undefined
  /** The access schedule's time zone (IANA). */
  readonly timeZone: string
}

export interface AuthSettings {
  readonly maxFailedLogins: number
  /** Sign-in and setup attempts per client address and minute. */
  readonly signInsPerMinute: number
  readonly lockMinutes: number
  readonly sessionIdleMinutes: number
  readonly sessionHours: number
  readonly resetCodeHours: number
}

export interface IntakeSettings {
  readonly noticeDays: number
  readonly receiptRetentionYears: number
  readonly maxFileBytes: number
  readonly maxFieldChars: number
  readonly batchItems: number
}

export interface LoadConfigOptions {
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly cwd?: string
  /** An explicit YAML file (`--config`); otherwise `TOKUMEI_CONFIG`, then `./tokumei.yaml` if present. */
  readonly file?: string
}

const DEFAULT_FILE = 'tokumei.yaml'

/** Reads defaults, then `tokumei.yaml`, then the environment; the later wins. Throws one clear error. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const explicit = options.file ?? nonEmpty(env.TOKUMEI_CONFIG)
  const file = explicit ? resolve(cwd, explicit) : resolve(cwd, DEFAULT_FILE)
  if (explicit && !existsSync(file)) {
    throw invalid(`The configuration file ${file} does not exist: create it or drop --config/TOKUMEI_CONFIG.`)
  }
  const fromFile = existsSync(file) ? readYamlSettings(file) : undefined

  const values = new Map<string, unknown>()
  const sources: Record<string, SettingSource> = {}
  for (const spec of SETTINGS) {
    const envValue = nonEmpty(env[spec.env])
    const fileEntry = fromFile?.values.get(spec.path)
    let raw: unknown
    let where: string
    if (envValue !== undefined) {
      raw = fromEnvString(spec, envValue)
      where = spec.env
      sources[spec.path] = 'env'
    } else if (fileEntry !== undefined) {
      raw = fileEntry.value
      where = `${spec.path} in ${file} line ${fileEntry.line}`
      sources[spec.path] = 'file'
    } else {
      sources[spec.path] = 'default'
      continue
    }
    const parsed = spec.schema.safeParse(raw)
    if (!parsed.success) {
      const shown = spec.secret ? '' : ` (got ${JSON.stringify(raw)})`
      throw invalid(`Invalid configuration: ${where} must be ${spec.expected}${shown}.`, {
        key: spec.path,
        env: spec.env,
      })
    }
    values.set(spec.path, parsed.data)
  }

  // Paths in the YAML file are relative to the file; everything else is relative to the working directory.
  const base = (path: string) => (sources[path] === 'file' ? dirname(file) : cwd)
  const get = <T>(path: string): T | undefined => values.get(path) as T | undefined
  const dataDir = resolve(base('dataDir'), get<string>('dataDir') ?? './data')
  const keyFile = get<string>('masterKey.file')
  const linkWeight = get<number>('identity.linkWeight') ?? -2
  const reviewWeight = get<number>('identity.reviewWeight') ?? -8
  if (reviewWeight > linkWeight)
    throw invalid(
      `Invalid configuration: identity.reviewWeight (${reviewWeight}) is above identity.linkWeight (${linkWeight}); pairs between the two go to review.`,
      { key: 'identity.reviewWeight', env: 'TOKUMEI_REVIEW_WEIGHT' },
    )
  const zoneUrls: Partial<Record<Zone, string>> = {}
  for (const zone of ZONES) {
    const url = get<string>(`database.zoneUrls.${zone}`)
    if (url) zoneUrls[zone] = url
  }

  return Object.freeze({
    dataDir,
    database: Object.freeze({
      url: get<string>('database.url'),
      rolePrefix: get<string>('database.rolePrefix') ?? 'tokumei',
      zoneUrls: Object.freeze(zoneUrls),
    }),
    masterKey: Object.freeze({
      file: keyFile ? resolve(base('masterKey.file'), keyFile) : resolve(dataDir, 'master.key'),
      value: get<string>('masterKey.value'),
    }),
    server: Object.freeze({
      host: get<string>('server.host') ?? '127.0.0.1',
      port: get<number>('server.port') ?? 8080,
    }),
    log: Object.freeze({ level: get<LogLevel>('log.level') ?? 'info' }),
    jobs: Object.freeze({
      pollMs: get<number>('jobs.pollMs') ?? 500,
      leaseSeconds: get<number>('jobs.leaseSeconds') ?? 600,
      maxAttempts: get<number>('jobs.maxAttempts') ?? 5,
    }),
    audit: Object.freeze({ checkpointSeconds: get<number>('audit.checkpointSeconds') ?? 60 }),
    intake: Object.freeze({
      noticeDays: get<number>('intake.noticeDays') ?? 30,
      receiptRetentionYears: get<number>('intake.receiptRetentionYears') ?? 3,
      maxFileBytes: get<number>('intake.maxFileBytes') ?? 256 * 1024 ** 2,
      maxFieldChars: get<number>('intake.maxFieldChars') ?? 4096,
      batchItems: get<number>('intake.batchItems') ?? 2000,
    }),
    monitor: Object.freeze({
      failedLogins: get<number>('monitor.failedLogins') ?? 10,
      windowMinutes: get<number>('monitor.windowMinutes') ?? 10,
      allowedNetworks: Object.freeze(
        (get<string>('monitor.allowedNetworks') ?? '')
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n !== ''),
      ),
      volumeMinimum: get<number>('monitor.volumeMinimum') ?? 500,
      volumeFactor: get<number>('monitor.volumeFactor') ?? 10,
      baselineDays: get<number>('monitor.baselineDays') ?? 28,
      webhookUrl: get<string>('monitor.webhookUrl') || undefined,
      timeZone: get<string>('schedule.timeZone') ?? 'Asia/Tokyo',
    }),
    auth: Object.freeze({
      maxFailedLogins: get<number>('auth.maxFailedLogins') ?? 5,
      signInsPerMinute: get<number>('auth.signInsPerMinute') ?? 10,
      lockMinutes: get<number>('auth.lockMinutes') ?? 15,
      sessionIdleMinutes: get<number>('auth.sessionIdleMinutes') ?? 15,
      sessionHours: get<number>('auth.sessionHours') ?? 8,
      resetCodeHours: get<number>('auth.resetCodeHours') ?? 24,
    }),
    identity: Object.freeze({
      variantList: get<string>('identity.variantList')
        ? resolve(base('identity.variantList'), get<string>('identity.variantList') as string)
        : undefined,
      linkWeight,
      reviewWeight,
    }),
    configFile: fromFile ? file : undefined,
    sources: Object.freeze(sources),
  })
}

interface FileEntry {
  readonly value: unknown
  readonly line: number
}

function readYamlSettings(file: string): { values: Map<string, FileEntry> } {
  const lineCounter = new LineCounter()
  const text = readFileSync(file, 'utf8')
  const doc = parseDocument(text, { lineCounter, prettyErrors: false })
  const firstError = doc.errors[0]
  if (firstError) {
    const line = lineCounter.linePos(firstError.pos[0]).line
    throw invalid(`The configuration file ${file} is not valid YAML at line ${line}: fix the syntax there.`, {
      file,
      line,
    })
  }
  const known = new Set(SETTINGS.map((s) => s.path))
  const values = new Map<string, FileEntry>()
  const lineOf = (node: Node | null | undefined) =>
    node?.range ? lineCounter.linePos(node.range[0]).line : 1

  const walk = (node: unknown, prefix: string) => {
    if (!isMap(node)) {
      throw invalid(`The configuration file ${file} must hold a mapping of settings (see the README).`, {
        file,
      })
    }
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
      const path = prefix ? `${prefix}.${key}` : key
      const line = lineOf(pair.key as Node)
      if (known.has(path)) {
        const value = isScalar(pair.value) ? pair.value.value : (pair.value as Node | null)?.toJSON()
        values.set(path, { value, line })
      } else if ([...known].some((k) => k.startsWith(`${path}.`))) {
        walk(pair.value, path)
      } else {
        throw invalid(
          `Unknown setting "${path}" in ${file} line ${line}: see \`tokumei config show\` for the settings there are.`,
          { file, line, key: path },
        )
      }
    }
  }
  if (doc.contents !== null) walk(doc.contents, '')
  return { values }
}

function fromEnvString(spec: SettingSpec, value: string): unknown {
  if (spec.kind === 'integer') return /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value
  if (spec.kind === 'number') return /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value.trim()) : value
  return value
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}

function invalid(message: string, details?: Record<string, string | number>): TokumeiError {
  return new TokumeiError(message, { code: 'config.invalid', kind: 'invalid', details })
}

/** The effective configuration with secrets hidden, for `tokumei config show`. */
export function describeConfig(config: Config): Array<{
  path: string
  env: string
  value: string | number | null
  source: SettingSource
}> {
  return SETTINGS.map((spec) => {
    const value = spec.path
      .split('.')
      .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], config)
    const shown =
      value === undefined ? null : spec.secret ? redact(spec, String(value)) : (value as string | number)
    return { path: spec.path, env: spec.env, value: shown, source: config.sources[spec.path] ?? 'default' }
  })
}

function redact(spec: SettingSpec, value: string): string {
  if (spec.kind !== 'url') return '(set, hidden)'
  const url = new URL(value)
  if (url.password) url.password = '***'
  return url.toString()
}
