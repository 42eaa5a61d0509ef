// Configuration: defaults, then `tokumei.yaml`, then the environment (`TOKUMEI_*`, `DATABASE_URL`),
// validated with zod. A bad value is one sentence naming the key and the expected form; secrets are
// never echoed back.
export {
  type AuthSettings,
  type Config,
  describeConfig,
  type IdentitySettings,
  type IntakeSettings,
  type LoadConfigOptions,
  type LogLevel,
  loadConfig,
  type MonitorSettings,
  type SettingSource,
  ZONES,
  type Zone,
} from './load.js'
export { LOG_LEVELS, SETTINGS, type SettingSpec } from './settings.js'
