import type { Command } from 'commander'
import {
  addInstitution,
  listInstitutionKeys,
  listInstitutions,
  readHoldings,
  revokeInstitutionKey,
  rotateInstitutionKey,
  updateInstitution,
} from '../../intake/index.js'
import type { Define } from '../main.js'

export function registerInstitutionCommands(program: Command, define: Define): void {
  const institution = program
    .command('institution')
    .description('register institutions, their API keys and see their holdings')

  institution
    .command('add')
    .description('register an institution and print its gateway API key (shown once)')
    .requiredOption('--code <code>', 'the 10-digit 医療機関コード')
    .requiredOption('--name <name>', 'the institution name')
    .requiredOption(
      '--notice-start <date>',
      'the day it began notifying its patients (通知開始日), YYYY-MM-DD',
    )
    .action(
      define(async ({ withRuntime, out }, options) => {
        return withRuntime(async (runtime) => {
          const { institution: added, key } = await addInstitution(runtime.db.kysely, {
            code: String(options.code),
            name: String(options.name),
            noticeStart: String(options.noticeStart),
          })
          await runtime.audit({
            action: 'institution.added',
            target: `institution:${added.code}`,
            detail: { key_id: key.keyId },
          })
          out.result({ institution: added, apiKey: key.apiKey, keyId: key.keyId }, [
            `Registered ${added.code} ${added.name} (notice from ${added.noticeStart}).`,
            `API key (shown once; store it in the institution's uploader): ${key.apiKey}`,
          ])
          return 0
        })
      }),
    )

  institution
    .command('list')
    .description('list institutions; with --holdings, what the agency holds of each (保有状況)')
    .option('--holdings', 'per institution: data categories, patients, records, date range, last submission')
    .action(
      define(async ({ withRuntime, out }, options) => {
        return withRuntime(async (runtime) => {
          const db = runtime.db.kysely
          if (options.holdings) {
            const holdings = await readHoldings(db)
            const lines: string[] = []
            for (const h of holdings) {
              lines.push(
                `${h.institution} ${h.name} — ${h.submissions} submission(s), last ${h.lastSubmission ?? 'never'}`,
              )
              for (const c of h.categories) {
                const range = c.firstDate ? ` ${c.firstDate} … ${c.lastDate}` : ''
                lines.push(
                  `  ${c.category.padEnd(15)} ${String(c.patients).padStart(8)} patients ${String(c.records).padStart(10)} records${range}`,
                )
              }
            }
            out.result(holdings, lines.length > 0 ? lines : 'No institutions are registered.')
            return 0
          }
          const list = await listInstitutions(db)
          out.result(
            list,
            list.length > 0
              ? list.map(
                  (i) => `${i.code}  ${i.name}  notice from ${i.noticeStart}  ${i.activeKeys} active key(s)`,
                )
              : 'No institutions are registered: add one with `tokumei institution add`.',
          )
          return 0
        })
      }),
    )

  institution
    .command('update <code>')
    .description("change an institution's name or notice start")
    .option('--name <name>', 'the new name')
    .option('--notice-start <date>', 'the corrected notice start, YYYY-MM-DD')
    .action(
      define(async ({ withRuntime, out }, options, code) => {
        return withRuntime(async (runtime) => {
          const updated = await updateInstitution(runtime.db.kysely, code ?? '', {
            name: options.name as string | undefined,
            noticeStart: options.noticeStart as string | undefined,
          })
          await runtime.audit({
            action: 'institution.updated',
            target: `institution:${updated.code}`,
            detail: { notice_start: updated.noticeStart },
          })
          out.result(updated, `Updated ${updated.code} ${updated.name} (notice from ${updated.noticeStart}).`)
          return 0
        })
      }),
    )

  institution
    .command('keys <code>')
    .description("list an institution's API keys (ids and dates; secrets are never stored)")
    .action(
      define(async ({ withRuntime, out }, _options, code) => {
        return withRuntime(async (runtime) => {
          const keys = await listInstitutionKeys(runtime.db.kysely, code ?? '')
          out.result(
            keys,
            keys.map(
              (k) =>
                `${k.keyId}  created ${k.createdAt}${k.revokedAt ? `  revoked ${k.revokedAt}` : '  active'}`,
            ),
          )
          return 0
        })
      }),
    )

  institution
    .command('rotate-key <code>')
    .description('issue a new API key (shown once); --revoke-others stops the old ones at once')
    .option('--revoke-others', 'revoke every earlier key of the institution')
    .action(
      define(async ({ withRuntime, out }, options, code) => {
        return withRuntime(async (runtime) => {
          const result = await rotateInstitutionKey(runtime.db.kysely, code ?? '', {
            revokeOthers: Boolean(options.revokeOthers),
          })
          await runtime.audit({
            action: 'institution.key_rotated',
            target: `institution:${result.institution.code}`,
            detail: { key_id: result.key.keyId, revoked: result.revoked },
          })
          out.result({ keyId: result.key.keyId, apiKey: result.key.apiKey, revoked: result.revoked }, [
            `New API key for ${result.institution.code} (shown once): ${result.key.apiKey}`,
            `${result.revoked} earlier key(s) revoked.`,
          ])
          return 0
        })
      }),
    )

  institution
    .command('revoke-key <key-id>')
    .description('revoke one API key at once')
    .action(
      define(async ({ withRuntime, out }, _options, keyId) => {
        return withRuntime(async (runtime) => {
          const result = await revokeInstitutionKey(runtime.db.kysely, keyId ?? '')
          await runtime.audit({
            action: 'institution.key_revoked',
            target: `institution:${result.institutionCode}`,
            detail: { key_id: keyId ?? '' },
          })
          out.result(
            { keyId, institution: result.institutionCode, revoked: true },
            `Revoked key ${keyId} of ${result.institutionCode}.`,
          )
          return 0
        })
      }),
    )
}
