import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { TokumeiError } from '../../model/index.js'
import { requestApproval } from '../../security/index.js'
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
    .description(
      'ask to replace the master key (every data key is re-wrapped; all data still decrypts): another person approves with `tokumei approve`, which rotates',
    )
    .option('--data-keys', 'also start new versions of the encryption data keys (old versions still decrypt)')
    .option(
      '--new-key-file <path>',
      'where to write the new master key when the current one comes from TOKUMEI_MASTER_KEY',
    )
    .action(
      define(async ({ withRuntime, out, io }, options) => {
        return withRuntime(async (runtime) => {
          const newKeyFile = options.newKeyFile ? resolve(io.cwd, String(options.newKeyFile)) : undefined
          // What the rotation would refuse is refused now, not when the approver runs it.
          if (runtime.master.source === 'env' && !newKeyFile)
            throw new TokumeiError(
              'The master key comes from TOKUMEI_MASTER_KEY: pass --new-key-file PATH to receive the new key, then put it in TOKUMEI_MASTER_KEY.',
              { code: 'keys.need_new_key_file', kind: 'invalid' },
            )
          if (newKeyFile && existsSync(newKeyFile))
            throw new TokumeiError(`${newKeyFile} already exists: name a new file for the new master key.`, {
              code: 'keys.new_key_file_exists',
              kind: 'conflict',
            })
          const request = await requestApproval(
            { db: runtime.db.kysely, keyring: runtime.keyring, actor: runtime.actor },
            {
              kind: 'keys.rotate',
              target: `kek:${runtime.master.id}`,
              params: { dataKeys: Boolean(options.dataKeys), ...(newKeyFile ? { newKeyFile } : {}) },
            },
          )
          out.result(request, [
            `Request ${request.id} recorded: ${request.description}.`,
            `Another person (admin or security officer) rotates it on this host with \`tokumei approve ${request.id} --user NAME\` before ${request.expiresAt}.`,
          ])
          return 0
        })
      }),
    )
}
