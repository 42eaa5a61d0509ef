import type { Command } from 'commander'
import { rotateMasterKey } from '../../security/index.js'
import type { Define } from '../main.js'

export function registerKeyCommands(program: Command, define: Define): void {
  const keys = program.command('keys').description('the master key and the data keys it wraps')
  keys
    .command('status')
    .description('show which master key protects the data keys, and the data-key versions held')
    .action(
      define(async ({ withRuntime, out }) => {
        return withRuntime(async (runtime) => {
          const dataKeys = runtime.keyring.describe()
          out.result(
            {
              kekId: runtime.master.id,
              kekSource: runtime.master.source,
              keyFile: runtime.master.file ?? null,
              dataKeys,
            },
            [
              `master key ${runtime.master.id} (${runtime.master.source === 'env' ? 'TOKUMEI_MASTER_KEY' : runtime.master.file})`,
              ...dataKeys.map((k) => `  ${k.purpose.padEnd(10)} versions ${k.versions.join(', ')}`),
            ],
          )
          return 0
        })
      }),
    )
  keys
    .command('rotate')
    .description('replace the master key: re-wrap every data key under a new one; all data still decrypts')
    .option('--data-keys', 'also start new versions of the encryption data keys (old versions still decrypt)')
    .option(
      '--new-key-file <path>',
      'where to write the new master key when the current one comes from TOKUMEI_MASTER_KEY',
    )
    .action(
      define(async ({ withRuntime, out }, options) => {
        return withRuntime(async (runtime) => {
          const report = await rotateMasterKey(runtime.db, runtime.master, runtime.keyring, {
            actor: runtime.actor,
            dataKeys: Boolean(options.dataKeys),
            newKeyFile: options.newKeyFile as string | undefined,
          })
          const lines = [
            `Master key rotated: ${report.previousKekId} → ${report.kekId}; ${report.rewrapped} data key(s) re-wrapped.`,
            ...report.addedDataKeys.map((k) => `  new data key ${k.purpose} v${k.version}`),
            runtime.master.source === 'env'
              ? `The new key is in ${report.keyFile}: put its content in TOKUMEI_MASTER_KEY before the next start.`
              : `The new key is in ${report.keyFile}. Backups taken before now still need the previous key.`,
          ]
          out.result(report, lines)
          return 0
        }, 'owner') // re-wrapping writes the keyring, which only the owner connection may do
      }),
    )
}
