import type { Command } from 'commander'
import { readYamlDocument } from '../../anonymize/index.js'
import {
  APPLICATION_SCHEMA,
  amendProject,
  applyForProject,
  CONTRACT_SCHEMA,
  type ContractView,
  certifyDestruction,
  DESTRUCTION_SCHEMA,
  endContract,
  findContract,
  findProject,
  type GovernanceContext,
  listContracts,
  listProjects,
  type ProjectView,
  recipientKeyId,
  reviewProject,
  signContract,
  withdrawProject,
} from '../../release/index.js'
import type { Runtime } from '../../runtime/index.js'
import { authContext } from '../../runtime/index.js'
import { verifyPerson } from '../../security/index.js'
import type { Define } from '../main.js'
import { readCode, readPassword } from '../secrets.js'

/**
 * Projects (利用申請), the committee's review (審査) and contracts (契約). An application and a contract
 * are YAML documents (docs/provision.md shows both); a reviewer proves who they are with their own
 * account, password and authenticator code, as an approver does.
 */
const governance = (runtime: Runtime): GovernanceContext => ({
  db: runtime.db.kysely,
  keyring: runtime.keyring,
  actor: runtime.actor,
})

const projectLine = (p: ProjectView) =>
  `${p.code}  ${p.state.padEnd(10)} v${p.version}  ${p.purpose === 'research' ? '研究開発' : '医療行政'}  ${p.title} — ${p.organisation}`

function projectLines(p: ProjectView): string[] {
  const current = p.reviews.filter((r) => r.version === p.version)
  const approvals = current.filter((r) => r.decision === 'approve').length
  const lines = [
    projectLine(p),
    `  investigator ${p.investigator}; applied by ${p.appliedBy} at ${p.appliedAt}`,
    `  items: ${p.application.items.join(', ')}`,
    `  cohort: ${p.application.cohort}; period ${p.application.period.from} … ${p.application.period.to}`,
    `  review of v${p.version}: ${approvals} of ${p.approvalsNeeded} approvals${current.some((r) => r.decision === 'reject') ? ', rejected' : ''}`,
  ]
  for (const r of current)
    lines.push(`    ${r.decision} by ${r.reviewer} at ${r.at}${r.comment ? ` — ${r.comment}` : ''}`)
  if (p.contract) lines.push(`  contract ${p.contract.code} (${p.contract.state}) until ${p.contract.ends}`)
  return lines
}

const contractLines = (c: ContractView) => [
  `${c.code}  ${c.state.padEnd(10)} project ${c.project}  ${c.starts} … ${c.ends}, destroy by ${c.destroyBy}`,
  `  recipients: ${c.recipients.map((r) => `${r.name} (${r.organisation})${r.keyId ? ` key ${r.keyId}` : ''}`).join('; ')}`,
  `  purposes: ${c.purposes.join('; ')}; sharing: ${c.sharing}`,
  `  bans: ${c.bans.join(', ')}; publication check ${c.publicationCheck ? 'required' : 'not required'}`,
]

export function registerProjectCommands(program: Command, define: Define): void {
  const project = program
    .command('project')
    .description('applications for data (利用申請): apply, amend, withdraw, list')

  project
    .command('apply <file>')
    .description(
      'submit an application (YAML: title, organisation, investigator, purpose, items, cohort, period, security)',
    )
    .action(
      define(async ({ withRuntime, out }, _options, file) => {
        const application = readYamlDocument(file ?? '', APPLICATION_SCHEMA, 'project.bad_application')
        return withRuntime(async (runtime) => {
          const created = await applyForProject(governance(runtime), application)
          out.result(created, [
            `Application ${created.code} submitted: it needs ${created.approvalsNeeded} approvals from reviewers other than you (\`tokumei review approve ${created.code}\`).`,
          ])
          return 0
        }, 'portal')
      }),
    )

  project
    .command('amend <code> <file>')
    .description('replace the application with an amended one (変更申請); the new version is reviewed again')
    .requiredOption('--reason <text>', 'why it changes')
    .action(
      define(async ({ withRuntime, out }, options, code, file) => {
        const application = readYamlDocument(file ?? '', APPLICATION_SCHEMA, 'project.bad_application')
        return withRuntime(async (runtime) => {
          const amended = await amendProject(
            governance(runtime),
            code ?? '',
            application,
            String(options.reason),
          )
          out.result(amended, `Project ${amended.code} amended to v${amended.version}; it is reviewed again.`)
          return 0
        }, 'portal')
      }),
    )

  project
    .command('withdraw <code>')
    .description('withdraw an application; an active contract is terminated with it')
    .requiredOption('--reason <text>', 'why')
    .action(
      define(async ({ withRuntime, out }, options, code) =>
        withRuntime(async (runtime) => {
          const withdrawn = await withdrawProject(governance(runtime), code ?? '', String(options.reason))
          out.result(withdrawn, `Project ${withdrawn.code} withdrawn.`)
          return 0
        }, 'portal'),
      ),
    )

  project
    .command('list')
    .description('every project with its state')
    .action(
      define(async ({ withRuntime, out }) =>
        withRuntime(async (runtime) => {
          const list = await listProjects(governance(runtime))
          out.result(
            list,
            list.length > 0 ? list.map(projectLine) : 'No projects: apply with `tokumei project apply FILE`.',
          )
          return 0
        }, 'portal'),
      ),
    )

  project
    .command('show <code>')
    .description('one project: its application, reviews and contract')
    .action(
      define(async ({ withRuntime, out }, _options, code) =>
        withRuntime(async (runtime) => {
          const found = await findProject(governance(runtime), code ?? '')
          out.result(found, projectLines(found))
          return 0
        }, 'portal'),
      ),
    )

  const review = program
    .command('review')
    .description(
      "the review committee's decisions (審査): two approvals by reviewers other than the applicant",
    )
  for (const decision of ['approve', 'reject'] as const) {
    review
      .command(`${decision} <code>`)
      .description(`${decision} the current version of a project with your own reviewer account`)
      .requiredOption('--user <name>', 'your reviewer account')
      .option('--password-file <file>', 'read your password from FILE (- for standard input)')
      .option('--code <code>', 'the current code of your authenticator app')
      .option('--comment <text>', 'the reason, recorded with the decision')
      .action(
        define(async ({ withRuntime, out, io }, options, code) => {
          const prompt = (text: string) => io.stderr.write(text)
          const password = await readPassword(options.passwordFile as string | undefined, prompt)
          const otp = await readCode(options.code, prompt)
          return withRuntime(async (runtime) => {
            const reviewer = await verifyPerson(authContext(runtime), {
              username: String(options.user),
              password,
              code: otp,
              source: runtime.actor,
            })
            const reviewed = await reviewProject(governance(runtime), {
              code: code ?? '',
              reviewer,
              decision,
              comment: options.comment as string | undefined,
            })
            out.result(reviewed, projectLines(reviewed))
            return 0
          }, 'owner')
        }),
      )
  }

  const contract = program
    .command('contract')
    .description('contracts (提供契約): sign, end, record the destruction certificate')
  contract
    .command('sign <project> <file>')
    .description(
      'sign the contract of an approved project (YAML: recipients, purposes, sharing, starts, ends, destroyBy)',
    )
    .action(
      define(async ({ withRuntime, out }, _options, code, file) => {
        const terms = readYamlDocument(file ?? '', CONTRACT_SCHEMA, 'contract.bad_terms')
        return withRuntime(async (runtime) => {
          const signed = await signContract(governance(runtime), code ?? '', terms, recipientKeyId)
          out.result(signed, contractLines(signed))
          return 0
        }, 'portal')
      }),
    )
  contract
    .command('end <code>')
    .description('end a contract: nothing more is provided under it, and its data are to be destroyed')
    .action(
      define(async ({ withRuntime, out }, _options, code) =>
        withRuntime(async (runtime) => {
          const ended = await endContract(governance(runtime), code ?? '')
          out.result(ended, contractLines(ended))
          return 0
        }, 'portal'),
      ),
    )
  contract
    .command('destroyed <code> <file>')
    .description(
      "record the recipient's destruction statement (YAML: destroyedOn, method, copies, certifiedBy) and print the signed certificate",
    )
    .action(
      define(async ({ withRuntime, out }, _options, code, file) => {
        const statement = readYamlDocument(file ?? '', DESTRUCTION_SCHEMA, 'contract.bad_destruction')
        return withRuntime(async (runtime) => {
          const certificate = await certifyDestruction(governance(runtime), code ?? '', statement)
          out.result(certificate, [
            `Destruction of ${code} certified (${(certificate.certificate.releases as string[]).length} release(s)).`,
            `Signature (Ed25519, key ${certificate.keyId}): ${certificate.signature}`,
          ])
          return 0
        }, 'portal')
      }),
    )
  contract
    .command('list')
    .description('every contract')
    .action(
      define(async ({ withRuntime, out }) =>
        withRuntime(async (runtime) => {
          const list = await listContracts(runtime.db.kysely)
          out.result(list, list.length > 0 ? list.flatMap(contractLines) : 'No contracts.')
          return 0
        }, 'portal'),
      ),
    )
  contract
    .command('show <code>')
    .description('one contract')
    .action(
      define(async ({ withRuntime, out }, _options, code) =>
        withRuntime(async (runtime) => {
          const found = await findContract(runtime.db.kysely, code ?? '')
          out.result(found, contractLines(found))
          return 0
        }, 'portal'),
      ),
    )
}
