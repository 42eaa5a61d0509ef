// The one store: Kysely over embedded PGlite (default) or a PostgreSQL server (DATABASE_URL), the
// versioned migrations, and the per-zone database roles. Nothing here knows a domain rule.
export {
  type Dialect,
  describeUrl,
  type OpenDatabaseOptions,
  openDatabase,
  ping,
  type TokumeiDatabase,
} from './database.js'
export { fromDatabaseError } from './errors.js'
export {
  assertMigrated,
  currentMigration,
  LATEST_MIGRATION,
  type MigrationReport,
  migrateToLatest,
} from './migrate.js'
export {
  applyZoneGrants,
  enableZoneLogins,
  MANAGED_SCHEMAS,
  ZONE_GRANTS,
  type ZoneLogin,
  zoneRole,
  zoneRolesExist,
} from './roles.js'
export type * from './schema.js'
