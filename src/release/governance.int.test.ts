import { verify } from 'node:crypto'
import { generateSync } from 'otplib'
import { beforeAll, expect, it } from 'vitest'
import { describeEachDialect } from '../../test/support/database.js'
import {
  type Account,
  type AuthContext,
  createAccount,
  setUpAccount,
  verifyPerson,
} from '../security/index.js'
import {
  APPLICATION_SCHEMA,
  activeContract,
  amendProject,
  applyForProject,
  CONTRACT_SCHEMA,
  certifyDestruction,
  endContract,
  findProject,
  type GovernanceContext,
  generateRecipientKeys,
  recipientKeyId,
  reviewProject,
  signContract,
  withdrawProject,
} from './index.js'

/**
 * The governance of provision against the store: two approvals from reviewers who neither applied
 * nor amended, one decision per reviewer and version, a rejection, an amendment reviewed anew, a
 * contract only for an approved project, provision only under an active contract, a signed
 * destruction certificate — and an audit event for every step.
 */
const application = APPLICATION_SCHEMA.parse({
  title: '糖尿病の研究',
  organisation: '架空大学',
  investigator: '研究 一郎',
  purpose: 'research',
  items: ['年齢', '病名'],
  cohort: '2型糖尿病',
  period: { from: '2026-01-01', to: '2027-12-31' },
  security: ['閉域の解析環境'],
})
const terms = (publicKey: string) =>
  CONTRACT_SCHEMA.parse({
    recipients: [{ name: '研究 一郎', organisation: '架空大学', publicKey }],
    purposes: ['糖尿病の研究'],
    sharing: '研究室内',
    starts: '2026-01-01',
    ends: '2099-12-31',
    destroyBy: '2100-03-31',
  })

describeEachDialect('project governance', (t) => {
  let auth: AuthContext
  const accounts = new Map<string, string>()
  // The authenticators' clock moves 30 s per verification: a code is never replayed.
  let clock = Date.now()
  const verified = async (username: string): Promise<Account> => {
    clock += 30_000
    return verifyPerson(auth, {
      username,
      password: 'a long test password 1',
      code: generateSync({ secret: accounts.get(username) as string, epoch: Math.floor(clock / 1000) }),
      source: 'test',
    })
  }
  const applicant: () => GovernanceContext = () => ({
    db: t.db.kysely,
    keyring: t.keyring,
    actor: 'account:alice',
  })

  beforeAll(async () => {
    auth = {
      db: t.db.kysely,
      keyring: t.keyring,
      settings: {
        maxFailedLogins: 10,
        signInsPerMinute: 10,
        lockMinutes: 1,
        sessionIdleMinutes: 30,
        sessionHours: 8,
        resetCodeHours: 24,
      },
      audit: async () => undefined,
      now: () => new Date(clock),
    }
    for (const [username, roles] of [
      ['alice', ['reviewer', 'researcher']],
      ['bob', ['reviewer']],
      ['carol', ['reviewer']],
      ['dave', ['researcher']],
    ] as const) {
      const { code } = await createAccount(auth, { username, roles, actor: 'test' })
      const { secret } = await setUpAccount(auth, { username, code, password: 'a long test password 1' })
      accounts.set(username, secret)
    }
  })

  it('approves with two reviewers other than the applicant, once each', async () => {
    const project = await applyForProject(applicant(), application)
    expect(project).toMatchObject({ state: 'submitted', version: 1 })
    await expect(
      reviewProject(applicant(), {
        code: project.code,
        reviewer: await verified('alice'),
        decision: 'approve',
      }),
    ).rejects.toMatchObject({ code: 'review.own_project' })
    await expect(
      reviewProject(applicant(), {
        code: project.code,
        reviewer: await verified('dave'),
        decision: 'approve',
      }),
    ).rejects.toMatchObject({ code: 'review.forbidden' })
    const once = await reviewProject(applicant(), {
      code: project.code,
      reviewer: await verified('bob'),
      decision: 'approve',
    })
    expect(once.state).toBe('submitted')
    await expect(
      reviewProject(applicant(), {
        code: project.code,
        reviewer: await verified('bob'),
        decision: 'approve',
      }),
    ).rejects.toMatchObject({ code: 'review.twice' })
    const twice = await reviewProject(applicant(), {
      code: project.code,
      reviewer: await verified('carol'),
      decision: 'approve',
    })
    expect(twice.state).toBe('approved')
    // Provision needs a contract.
    await expect(activeContract(t.db.kysely, project.code)).rejects.toMatchObject({
      code: 'release.not_contracted',
    })
    const events = await t.db.kysely
      .selectFrom('audit.event')
      .select('action')
      .where('target', '=', `project:${project.code}`)
      .execute()
    expect(events.map((e) => e.action)).toEqual(['project.applied', 'review.approved', 'review.approved'])
  })

  it('rejects with one rejection; an amendment is reviewed anew, and not by its author', async () => {
    const project = await applyForProject(applicant(), application)
    const rejected = await reviewProject(applicant(), {
      code: project.code,
      reviewer: await verified('bob'),
      decision: 'reject',
      comment: 'the security measures are not enough',
    })
    expect(rejected.state).toBe('rejected')
    await expect(
      signContract(applicant(), project.code, terms(generateRecipientKeys().publicKeyPem), recipientKeyId),
    ).rejects.toMatchObject({
      code: 'contract.not_approved',
    })
    const amended = await amendProject(
      { ...applicant(), actor: 'account:carol' },
      project.code,
      { ...application, security: ['閉域の解析環境', 'ISMS'] },
      '対策を追加',
    )
    expect(amended).toMatchObject({ state: 'submitted', version: 2 })
    await expect(
      reviewProject(applicant(), {
        code: project.code,
        reviewer: await verified('carol'),
        decision: 'approve',
      }),
    ).rejects.toMatchObject({ code: 'review.own_project' })
    await reviewProject(applicant(), {
      code: project.code,
      reviewer: await verified('bob'),
      decision: 'approve',
    })
    const approvals = (await findProject(applicant(), project.code)).reviews.filter((r) => r.version === 2)
    expect(approvals).toHaveLength(1)
  })

  it('binds provision to an active contract and certifies the destruction', async () => {
    const project = await applyForProject(applicant(), application)
    await reviewProject(applicant(), {
      code: project.code,
      reviewer: await verified('bob'),
      decision: 'approve',
    })
    await reviewProject(applicant(), {
      code: project.code,
      reviewer: await verified('carol'),
      decision: 'approve',
    })
    const keys = generateRecipientKeys()
    const contract = await signContract(applicant(), project.code, terms(keys.publicKeyPem), recipientKeyId)
    expect(contract.bans).toEqual(['re-identification', 'onward-provision'])
    expect(contract.recipients[0]?.keyId).toBe(keys.keyId)
    expect((await activeContract(t.db.kysely, project.code)).contract).toBe(contract.code)
    await expect(
      certifyDestruction(applicant(), contract.code, {
        destroyedOn: '2026-12-01',
        method: '上書き消去',
        copies: ['解析端末'],
        certifiedBy: '研究 一郎',
      }),
    ).rejects.toMatchObject({
      code: 'contract.destruction_state',
    })
    await endContract(applicant(), contract.code)
    await expect(activeContract(t.db.kysely, project.code)).rejects.toMatchObject({
      code: 'release.not_contracted',
    })
    const certificate = await certifyDestruction(applicant(), contract.code, {
      destroyedOn: '2026-12-01',
      method: '上書き消去',
      copies: ['解析端末'],
      certifiedBy: '研究 一郎',
    })
    const publicKey = t.keyring.signingKey('destruction-certificate').publicKey
    expect(
      verify(
        null,
        Buffer.from(JSON.stringify(certificate.certificate)),
        publicKey,
        Buffer.from(certificate.signature, 'base64'),
      ),
    ).toBe(true)
  })

  it('withdraws a project and terminates its contract', async () => {
    const project = await applyForProject(applicant(), application)
    await reviewProject(applicant(), {
      code: project.code,
      reviewer: await verified('bob'),
      decision: 'approve',
    })
    await reviewProject(applicant(), {
      code: project.code,
      reviewer: await verified('carol'),
      decision: 'approve',
    })
    await signContract(applicant(), project.code, terms(generateRecipientKeys().publicKeyPem), recipientKeyId)
    const withdrawn = await withdrawProject(applicant(), project.code, '研究の中止')
    expect(withdrawn.state).toBe('withdrawn')
    expect(withdrawn.contract?.state).toBe('terminated')
    await expect(activeContract(t.db.kysely, project.code)).rejects.toMatchObject({
      code: 'release.not_contracted',
    })
  })
})
