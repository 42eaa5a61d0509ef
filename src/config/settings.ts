import { z } from 'zod'

/**
 * Every setting tokumei reads, in one table: where it lives in `tokumei.yaml`, which environment
 * variable overrides it, what form it takes. The README's configuration reference and
 * `tokumei config show` are made from this table, so they cannot drift from the code.
 */
export interface SettingSpec {
  /** Dotted path in `tokumei.yaml` and in the loaded `Config`. */
  readonly path: string
  readonly env: string
  /** Validates one value; environment strings are converted before this runs. */
  readonly schema: z.ZodType
  readonly kind: 'string' | 'integer' | 'number' | 'enum' | 'url'
  /** The expected form, as the second half of "KEY must be …". */
  readonly expected: string
  readonly default?: string | number
  readonly secret?: boolean
  readonly doc: string
}

const integer = (min: number, max: number) => z.number().int().min(min).max(max)
const postgresUrl = z
  .string()
  .refine((value) => /^postgres(ql)?:\/\/\S*$/.test(value) && URL.canParse(value), 'not a PostgreSQL URL')

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export const SETTINGS: readonly SettingSpec[] = [
  {
    path: 'dataDir',
    env: 'TOKUMEI_DATA_DIR',
    schema: z.string().min(1),
    kind: 'string',
    expected: 'a directory path',
    default: './data',
    doc: 'Where the embedded database (`db/`), the master key file and the object store live.',
  },
  {
    path: 'database.url',
    env: 'DATABASE_URL',
    schema: postgresUrl,
    kind: 'url',
    expected: 'a URL of the form postgresql://user:password@host:5432/database',
    secret: true,
    doc: 'A PostgreSQL 15+ server. Unset: the embedded PGlite database in `<dataDir>/db`.',
  },
  {
    path: 'database.rolePrefix',
    env: 'TOKUMEI_DB_ROLE_PREFIX',
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,40}$/),
    kind: 'string',
    expected: 'lower-case letters, digits and underscores, starting with a letter (at most 41 characters)',
    default: 'tokumei',
    doc: 'Prefix of the per-zone database roles (`<prefix>_gateway`, `<prefix>_core`, `<prefix>_portal`).',
  },
  {
    path: 'database.zoneUrls.gateway',
    env: 'TOKUMEI_GATEWAY_DATABASE_URL',
    schema: postgresUrl,
    kind: 'url',
    expected: 'a URL of the form postgresql://user:password@host:5432/database',
    secret: true,
    doc: 'Connection used by `serve --zone gateway` (as the gateway role). Printed by `init --roles`.',
  },
  {
    path: 'database.zoneUrls.core',
    env: 'TOKUMEI_CORE_DATABASE_URL',
    schema: postgresUrl,
    kind: 'url',
    expected: 'a URL of the form postgresql://user:password@host:5432/database',
    secret: true,
    doc: 'Connection used by `serve --zone core` and `process` (as the core role).',
  },
  {
    path: 'database.zoneUrls.portal',
    env: 'TOKUMEI_PORTAL_DATABASE_URL',
    schema: postgresUrl,
    kind: 'url',
    expected: 'a URL of the form postgresql://user:password@host:5432/database',
    secret: true,
    doc: 'Connection used by `serve --zone portal` (as the portal role).',
  },
  {
    path: 'masterKey.file',
    env: 'TOKUMEI_MASTER_KEY_FILE',
    schema: z.string().min(1),
    kind: 'string',
    expected: 'a file path',
    default: '<dataDir>/master.key',
    doc: 'The key-encryption key, created by `tokumei init` with mode 0600.',
  },
  {
    path: 'masterKey.value',
    env: 'TOKUMEI_MASTER_KEY',
    schema: z.string().regex(/^[A-Za-z0-9+/]{43}=$/),
    kind: 'string',
    expected: '32 random bytes in base64 (44 characters ending in "="), e.g. from `openssl rand -base64 32`',
    secret: true,
    doc: 'The key-encryption key itself; when set, the key file is not read.',
  },
  {
    path: 'server.host',
    env: 'TOKUMEI_HOST',
    schema: z.string().min(1),
    kind: 'string',
    expected: 'a host name or IP address to listen on',
    default: '127.0.0.1',
    doc: 'Address `tokumei serve` listens on.',
  },
  {
    path: 'server.port',
    env: 'TOKUMEI_PORT',
    schema: integer(0, 65535),
    kind: 'integer',
    expected: 'an integer from 0 to 65535',
    default: 8080,
    doc: 'Port `tokumei serve` listens on (0 picks a free port).',
  },
  {
    path: 'log.level',
    env: 'TOKUMEI_LOG_LEVEL',
    schema: z.enum(LOG_LEVELS),
    kind: 'enum',
    expected: `one of ${LOG_LEVELS.join(', ')}`,
    default: 'info',
    doc: 'Server log level (logs are JSON lines on standard error and never contain request bodies).',
  },
  {
    path: 'jobs.pollMs',
    env: 'TOKUMEI_JOBS_POLL_MS',
    schema: integer(10, 60_000),
    kind: 'integer',
    expected: 'an integer from 10 to 60000 (milliseconds)',
    default: 500,
    doc: 'How often an idle worker looks for new jobs.',
  },
  {
    path: 'jobs.leaseSeconds',
    env: 'TOKUMEI_JOBS_LEASE_SECONDS',
    schema: integer(5, 86_400),
    kind: 'integer',
    expected: 'an integer from 5 to 86400 (seconds)',
    default: 600,
    doc: 'A running job whose worker has been silent this long is taken over by another worker.',
  },
  {
    path: 'jobs.maxAttempts',
    env: 'TOKUMEI_JOBS_MAX_ATTEMPTS',
    schema: integer(1, 100),
    kind: 'integer',
    expected: 'an integer from 1 to 100',
    default: 5,
    doc: 'Attempts before a failing job is marked failed (retries back off exponentially).',
  },
  {
    path: 'audit.checkpointSeconds',
    env: 'TOKUMEI_AUDIT_CHECKPOINT_SECONDS',
    schema: integer(1, 86_400),
    kind: 'integer',
    expected: 'an integer from 1 to 86400 (seconds)',
    default: 60,
    doc: 'How often the workers sign a checkpoint of the audit chain when new events arrived.',
  },
  {
    path: 'intake.noticeDays',
    env: 'TOKUMEI_NOTICE_DAYS',
    schema: integer(0, 365),
    kind: 'integer',
    expected: 'an integer from 0 to 365 (days)',
    default: 30,
    doc: 'Records of a patient whose notice (通知) is younger than this are held, then ingested once it has passed.',
  },
  {
    path: 'intake.receiptRetentionYears',
    env: 'TOKUMEI_RECEIPT_RETENTION_YEARS',
    schema: integer(3, 100),
    kind: 'integer',
    expected: 'an integer from 3 to 100 (years)',
    default: 3,
    doc: 'How long receipts (受領記録) are kept; the law asks for at least 3 years.',
  },
  {
    path: 'intake.maxFileBytes',
    env: 'TOKUMEI_MAX_FILE_BYTES',
    schema: integer(1024, 4 * 1024 ** 3),
    kind: 'integer',
    expected: 'an integer from 1024 to 4294967296 (bytes)',
    default: 256 * 1024 ** 2,
    doc: 'The largest file a submission may hold, after decompression; larger ones are quarantined.',
  },
  {
    path: 'intake.maxFieldChars',
    env: 'TOKUMEI_MAX_FIELD_CHARS',
    schema: integer(64, 1_000_000),
    kind: 'integer',
    expected: 'an integer from 64 to 1000000 (characters)',
    default: 4096,
    doc: 'A record with a longer text field (documents excepted) is quarantined instead of stored.',
  },
  {
    path: 'intake.batchItems',
    env: 'TOKUMEI_INTAKE_BATCH_ITEMS',
    schema: integer(1, 100_000),
    kind: 'integer',
    expected: 'an integer from 1 to 100000',
    default: 2000,
    doc: 'Files the core processes in one transaction (each batch is stored entirely or not at all).',
  },
  {
    path: 'auth.maxFailedLogins',
    env: 'TOKUMEI_AUTH_MAX_FAILED_LOGINS',
    schema: integer(1, 100),
    kind: 'integer',
    expected: 'an integer from 1 to 100',
    default: 5,
    doc: 'Failed logins in a row (wrong password or code) after which the account is locked.',
  },
  {
    path: 'auth.signInsPerMinute',
    env: 'TOKUMEI_SIGN_INS_PER_MINUTE',
    schema: integer(1, 10_000),
    kind: 'integer',
    expected: 'an integer from 1 to 10000',
    default: 10,
    doc: 'Sign-in and setup attempts allowed per client address and minute (then 429). Raise it when many staff reach the portal through one address.',
  },
  {
    path: 'auth.lockMinutes',
    env: 'TOKUMEI_AUTH_LOCK_MINUTES',
    schema: integer(1, 10_080),
    kind: 'integer',
    expected: 'an integer from 1 to 10080 (minutes)',
    default: 15,
    doc: 'How long a locked account stays locked (an admin reset unlocks it sooner).',
  },
  {
    path: 'auth.sessionIdleMinutes',
    env: 'TOKUMEI_SESSION_IDLE_MINUTES',
    schema: integer(1, 1440),
    kind: 'integer',
    expected: 'an integer from 1 to 1440 (minutes)',
    default: 15,
    doc: 'A session unused this long ends.',
  },
  {
    path: 'auth.sessionHours',
    env: 'TOKUMEI_SESSION_HOURS',
    schema: integer(1, 24),
    kind: 'integer',
    expected: 'an integer from 1 to 24 (hours)',
    default: 8,
    doc: 'A session ends this long after sign-in, however active.',
  },
  {
    path: 'auth.resetCodeHours',
    env: 'TOKUMEI_RESET_CODE_HOURS',
    schema: integer(1, 168),
    kind: 'integer',
    expected: 'an integer from 1 to 168 (hours)',
    default: 24,
    doc: 'How long the one-time code of an admin reset (or a new account) stays valid.',
  },
  {
    path: 'monitor.failedLogins',
    env: 'TOKUMEI_MONITOR_FAILED_LOGINS',
    schema: integer(2, 1000),
    kind: 'integer',
    expected: 'an integer from 2 to 1000',
    default: 10,
    doc: 'Failed sign-ins (staff or API keys) from one address within the window that block the address.',
  },
  {
    path: 'monitor.windowMinutes',
    env: 'TOKUMEI_MONITOR_WINDOW_MINUTES',
    schema: integer(1, 1440),
    kind: 'integer',
    expected: 'an integer from 1 to 1440 (minutes)',
    default: 10,
    doc: 'The window the monitor counts failures in.',
  },
  {
    path: 'monitor.allowedNetworks',
    env: 'TOKUMEI_ALLOWED_NETWORKS',
    schema: z
      .string()
      .refine(
        (v) => v.split(',').every((n) => n.trim() === '' || /^[0-9a-fA-F.:]+\/\d{1,3}$/.test(n.trim())),
        'not a list of CIDR blocks',
      ),
    kind: 'string',
    expected: 'comma-separated CIDR blocks, e.g. 10.0.0.0/8,192.168.10.0/24',
    doc: 'Networks staff may sign in from; a sign-in from elsewhere blocks the account. Empty: any.',
  },
  {
    path: 'monitor.volumeMinimum',
    env: 'TOKUMEI_MONITOR_VOLUME_MINIMUM',
    schema: integer(10, 10_000_000),
    kind: 'integer',
    expected: 'an integer from 10 to 10000000 (events)',
    default: 500,
    doc: "Events by one account or API key within the window below which the volume rule never fires, whatever the actor's baseline.",
  },
  {
    path: 'monitor.volumeFactor',
    env: 'TOKUMEI_MONITOR_VOLUME_FACTOR',
    schema: z.number().min(1.5).max(1000),
    kind: 'number',
    expected: 'a number from 1.5 to 1000',
    default: 10,
    doc: "How many times its busiest window of the baseline period an actor's events must reach to fire the volume rule.",
  },
  {
    path: 'monitor.baselineDays',
    env: 'TOKUMEI_MONITOR_BASELINE_DAYS',
    schema: integer(1, 365),
    kind: 'integer',
    expected: 'an integer from 1 to 365 (days)',
    default: 28,
    doc: "The period an actor's baseline (its busiest window) is taken from.",
  },
  {
    path: 'monitor.webhookUrl',
    env: 'TOKUMEI_MONITOR_WEBHOOK_URL',
    schema: z.string().refine((v) => v === '' || /^https?:\/\//.test(v), 'not an http(s) URL'),
    kind: 'string',
    expected: 'an http:// or https:// URL',
    doc: 'Where every alert is posted as JSON (retried up to 5 times). Empty: alerts are only stored.',
  },
  {
    path: 'identity.variantList',
    env: 'TOKUMEI_VARIANT_LIST',
    schema: z.string().min(1),
    kind: 'string',
    expected: 'the path of a YAML map of standard kanji to their variants',
    doc: 'The 異体字 list linkage folds names with (default: itaiji/itaiji_list.yml of the shared data, when present; built-in pairs otherwise).',
  },
  {
    path: 'identity.linkWeight',
    env: 'TOKUMEI_LINK_WEIGHT',
    schema: z.number().min(-50).max(50),
    kind: 'number',
    expected: 'a number from -50 to 50 (log2 odds)',
    default: -2,
    doc: 'Linkage: a pair of patient records whose match weight reaches this is linked as one person without review.',
  },
  {
    path: 'identity.reviewWeight',
    env: 'TOKUMEI_REVIEW_WEIGHT',
    schema: z.number().min(-50).max(50),
    kind: 'number',
    expected: 'a number from -50 to 50 (log2 odds), not above identity.linkWeight',
    default: -8,
    doc: 'Linkage: a pair whose weight reaches this but not identity.linkWeight waits for a linkage reviewer; below it the records stay apart.',
  },
  {
    path: 'schedule.timeZone',
    env: 'TOKUMEI_TIME_ZONE',
    schema: z.string().refine((v) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: v })
        return true
      } catch {
        return false
      }
    }, 'not an IANA time zone'),
    kind: 'string',
    expected: 'an IANA time zone, e.g. Asia/Tokyo',
    default: 'Asia/Tokyo',
    doc: "The time zone of the access schedule's days and hours.",
  },
]
