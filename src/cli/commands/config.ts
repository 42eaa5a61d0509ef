import type { Command } from 'commander'
import { describeConfig } from '../../config/index.js'
import type { Define } from '../main.js'

export function registerConfigCommands(program: Command, define: Define): void {
  const config = program.command('config').description('inspect the configuration')
  config
    .command('show')
    .description('print every setting, its value (secrets hidden) and where it came from')
    .action(
      define(async ({ config: load, out }) => {
        const cfg = await load()
        const rows = describeConfig(cfg)
        const width = Math.max(...rows.map((r) => r.path.length))
        out.result({ configFile: cfg.configFile ?? null, settings: rows }, [
          `configuration file: ${cfg.configFile ?? '(none)'}`,
          ...rows.map(
            (r) =>
              `${r.path.padEnd(width)}  ${r.value === null ? '(unset)' : String(r.value)}  [${r.source === 'env' ? r.env : r.source}]`,
          ),
        ])
        return 0
      }),
    )
}
