import type { Command } from 'commander'
import { applyZoneGrants, migrateToLatest, openDatabase, zoneRolesExist } from '../../db/index.js'
import { databaseOptionsFor, initialize } from '../../runtime/index.js'
import type { Define } from '../main.js'

export function registerInitCommands(program: Command, define: Define): void {
  program
    .command('init')
    .description(
      'create what is missing: tokumei.yaml, the master key, the database schema, data keys, the first administrator',
    )
    .option(
      '--roles',
      'also create the per-zone database roles and print their connection URLs (PostgreSQL server only)',
    )
    .option('--admin <username>', 'name of the first administrator', 'admin')
    .action(
      define(async ({ config, io, out }, options) => {
        const report = await initialize(await config(), {
          cwd: io.cwd,
          roles: Boolean(options.roles),
          adminUsername: options.admin as string,
        })
        const lines: string[] = []
        if (report.alreadyInitialised) {
          lines.push(
            `tokumei is already initialised (${report.database.dialect}: ${report.database.location}); nothing to do.`,
          )
        } else {
          lines.push(
            `Initialised tokumei on ${report.database.dialect === 'pglite' ? 'the embedded database' : 'PostgreSQL'} at ${report.database.location}.`,
          )
          if (report.configFileWritten) lines.push(`  configuration file: ${report.configFileWritten}`)
          if (report.masterKeyCreated) {
            lines.push(
              `  master key: ${report.masterKeyCreated} (mode 0600) — back it up apart from the database; without it nothing decrypts`,
            )
          }
          if (report.database.migrationsApplied.length > 0)
            lines.push(`  migrations applied: ${report.database.migrationsApplied.join(', ')}`)
          if (report.dataKeysCreated.length > 0)
            lines.push(`  data keys created: ${report.dataKeysCreated.join(', ')}`)
        }
        if (report.admin) {
          lines.push(
            '',
            `First administrator: ${report.admin.username}`,
            `One-time password:   ${report.admin.oneTimePassword}`,
            `It is shown only now. Set the password and the second factor with it: tokumei account setup ${report.admin.username} --code <one-time password>`,
          )
        }
        if (report.zoneLogins.length > 0) {
          lines.push('', "Zone database logins (shown only now; put each in its zone host's environment):")
          for (const login of report.zoneLogins) {
            lines.push(`  TOKUMEI_${login.zone.toUpperCase()}_DATABASE_URL=${login.url}`)
          }
        }
        out.result(report, lines)
        return 0
      }),
    )

  program
    .command('migrate')
    .description('apply pending database migrations (all in one transaction)')
    .action(
      define(async ({ config, out }) => {
        const cfg = await config()
        const db = await openDatabase({ ...databaseOptionsFor(cfg), create: true })
        try {
          const report = await migrateToLatest(db)
          const grants = await zoneRolesExist(db, cfg.database.rolePrefix)
          if (grants) await applyZoneGrants(db, cfg.database.rolePrefix)
          out.result(
            { ...report, zoneGrantsApplied: grants },
            report.applied.length > 0
              ? [
                  `Applied ${report.applied.length} migration(s): ${report.applied.join(', ')}.`,
                  `Database is at ${report.current}.`,
                ]
              : `Nothing to apply: the database is at ${report.current}.`,
          )
          return 0
        } finally {
          await db.close()
        }
      }),
    )
}
