import type { Command } from 'commander'
import { listAlerts, voteToLift } from '../../security/index.js'
import type { Define } from '../main.js'

export function registerMonitorCommands(program: Command, define: Define): void {
  program
    .command('alerts')
    .description("the monitor's alerts, newest first, with the state of each block")
    .option('--limit <n>', 'at most this many', '100')
    .action(
      define(async ({ withRuntime, out }, options) => {
        return withRuntime(async (runtime) => {
          const alerts = await listAlerts(runtime.db.kysely, Number(options.limit) || 100)
          out.result(
            alerts,
            alerts.length > 0
              ? alerts.map(
                  (a) =>
                    `#${a.id} ${a.at} [${a.rule}] ${a.message}${a.block ? ` — block ${a.block.id}: ${a.block.state}` : ''}`,
                )
              : 'No alerts.',
          )
          return 0
        })
      }),
    )
  program
    .command('unblock <block-id>')
    .description('vote to lift a block: the first vote asks, a second person’s vote lifts it')
    .action(
      define(async ({ withRuntime, out }, _options, id) => {
        return withRuntime(async (runtime) => {
          const state = await voteToLift(runtime.db.kysely, runtime.keyring, {
            blockId: Number(id),
            actor: runtime.actor,
          })
          out.result(
            { block: Number(id), state },
            state === 'lifted'
              ? `Block ${id} lifted.`
              : `Lift of block ${id} requested by ${runtime.actor}; another person must run \`tokumei unblock ${id}\` to lift it.`,
          )
          return 0
        })
      }),
    )
}
