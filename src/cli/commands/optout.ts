import type { Command } from 'commander'
import { listOptOuts, registerOptOut } from '../../intake/index.js'
import { coreIntakeContext } from '../../runtime/index.js'
import type { Define } from '../main.js'

export function registerOptOutCommands(program: Command, define: Define): void {
  const optout = program.command('optout').description('提供停止: register and list patients’ refusals')
  optout
    .command('add')
    .description('register a refusal: stops all later intake and deletes what is already held of the patient')
    .requiredOption('--institution <code>', 'the 10-digit 医療機関コード where the patient refused')
    .requiredOption('--patient-id <id>', "the institution's patient ID (kept only as a keyed hash)")
    .action(
      define(async ({ withRuntime, out }, options) => {
        return withRuntime(async (runtime) => {
          const result = await registerOptOut(coreIntakeContext(runtime), {
            institutionCode: String(options.institution),
            patientId: String(options.patientId),
            channel: 'cli',
            actor: runtime.actor,
          })
          out.result(
            result,
            result.alreadyRegistered
              ? `Refusal #${result.id} at ${result.institution} was already registered; ${result.deletedRecords} record(s) deleted in all.`
              : `Refusal #${result.id} registered at ${result.institution}: ${result.deletedPatients} patient(s) and ${result.deletedRecords} record(s) deleted; later submissions of this patient will not be stored.`,
          )
          return 0
        })
      }),
    )
  optout
    .command('list')
    .description('refusals on record (no patient IDs: only when, where, by whom, and what was deleted)')
    .action(
      define(async ({ withRuntime, out }) => {
        return withRuntime(async (runtime) => {
          const list = await listOptOuts(runtime.db.kysely)
          out.result(
            list,
            list.length > 0
              ? list.map(
                  (o) =>
                    `#${o.id} ${o.institution} ${o.registeredAt} by ${o.registeredBy} (${o.channel}): ${o.deletedPatients} patient(s), ${o.deletedRecords} record(s) deleted`,
                )
              : 'No refusals are registered.',
          )
          return 0
        })
      }),
    )
}
