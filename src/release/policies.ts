import { createHash } from 'node:crypto'
import type { Kysely } from 'kysely'
import { parsePolicy } from '../anonymize/index.js'
import type { Schema } from '../db/index.js'
import { TokumeiError } from '../model/index.js'
import { recordAuditEvent } from '../security/index.js'
import type { GovernanceContext } from './governance.js'
import { defaultPersonsPolicy, type NamedPolicy } from './spec.js'

/**
 * Policies of the persons table stored under a name, so that a release built from the portal can
 * choose one: a spec sent there cannot name a file on the core host. `default` is tokumei's own and
 * is never stored. A stored policy is checked when it is added and again when a build uses it.
 */
type Db = Kysely<Schema>

export interface PolicySummary {
  readonly name: string
  readonly description: string
  readonly k: number
  readonly suppression: number
  readonly quasiIdentifiers: readonly string[]
  readonly sha256: string
  readonly createdBy: string
  readonly createdAt: string | null
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/

function summarize(
  name: string,
  description: string,
  text: string,
  createdBy: string,
  createdAt: string | null,
): PolicySummary {
  const policy = parsePolicy(
    text,
    name === 'default' ? 'the default persons policy' : `the stored policy ${name}`,
  )
  return {
    name,
    description,
    k: policy.privacy.k,
    suppression: policy.privacy.suppression,
    quasiIdentifiers: Object.entries(policy.columns)
      .filter(([, c]) => c.role === 'quasi-identifying')
      .map(([column]) => column),
    sha256: createHash('sha256').update(text).digest('hex'),
    createdBy,
    createdAt,
  }
}

export async function storePolicy(
  context: GovernanceContext,
  input: { name: string; text: string; description?: string },
): Promise<PolicySummary> {
  if (!NAME.test(input.name) || input.name === 'default')
    throw new TokumeiError(
      `A policy's name is 1 to 64 lower-case letters, digits, - or _ (not "default"): ${JSON.stringify(input.name.slice(0, 70))} is not one.`,
      { code: 'policy.bad_name', kind: 'invalid' },
    )
  const policy = parsePolicy(input.text, `the policy ${input.name}`)
  if (policy.person !== 'person')
    throw new TokumeiError(`The policy ${input.name} must name its person column: \`person: person\`.`, {
      code: 'release.bad_policy',
      kind: 'invalid',
    })
  const sha256 = createHash('sha256').update(input.text).digest('hex')
  await context.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('governance.policy')
      .values({
        name: input.name,
        description: input.description ?? '',
        text: input.text,
        sha256,
        created_by: context.actor,
      })
      .onConflict((oc) =>
        oc.column('name').doUpdateSet({
          description: input.description ?? '',
          text: input.text,
          sha256,
          created_by: context.actor,
          created_at: new Date(),
        }),
      )
      .execute()
    await recordAuditEvent(trx, context.keyring, {
      actor: context.actor,
      action: 'policy.stored',
      target: `policy:${input.name}`,
      detail: { sha256, k: policy.privacy.k },
    })
  })
  return (await listPolicies(context.db)).find((p) => p.name === input.name) as PolicySummary
}

/** `default` first, then the stored ones by name. */
export async function listPolicies(db: Db): Promise<PolicySummary[]> {
  const rows = await db.selectFrom('governance.policy').selectAll().orderBy('name').execute()
  return [
    summarize(
      'default',
      'k = 5 on age (bands), sex and area; up to 5 % of persons suppressed',
      defaultPersonsPolicy(['age', 'sex', 'area']),
      'tokumei',
      null,
    ),
    ...rows.map((r) => summarize(r.name, r.description, r.text, r.created_by, r.created_at.toISOString())),
  ]
}

/** The stored policy of this name, for a build's payload; `default` is no stored policy. */
export async function findPolicy(db: Db, name: string): Promise<NamedPolicy> {
  const row = await db
    .selectFrom('governance.policy')
    .select(['name', 'text'])
    .where('name', '=', name)
    .executeTakeFirst()
  if (!row)
    throw new TokumeiError(`There is no stored policy ${name}: see \`tokumei policy list\`.`, {
      code: 'policy.not_found',
      kind: 'not_found',
    })
  return row
}
