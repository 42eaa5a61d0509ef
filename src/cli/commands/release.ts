import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { Command } from 'commander'
import { TokumeiError } from '../../model/index.js'
import type { Define } from '../main.js'

/**
 * Releases: build one from a spec (on the core host), verify a package from its files alone, deliver
 * it encrypted to a recipient behind a limited link, and — on the recipient's side — make a key pair
 * and open a delivered package. `tokumei trace FILE` names the release a file came from.
 */
const positive = (value: unknown, name: string, fallback: number): number => {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new TokumeiError(`${name} is a whole number above 0.`, { code: 'cli.bad_number', kind: 'invalid' })
  return n
}

export function registerReleaseCommands(program: Command, define: Define): void {
  const release = program.command('release').description('build, verify, deliver and open release packages')

  release
    .command('build')
    .description(
      'build a release package from a spec (a core job): cohort → anonymize → verify → package → sign',
    )
    .requiredOption('--spec <file>', 'the release spec (YAML; see docs/provision.md)')
    .option('--queue', 'only queue the build for the core workers (`tokumei serve` or `tokumei process`)')
    .action(
      define(async ({ withRuntime, out }, options) => {
        const { readSpec } = await import('../../release/index.js')
        const file = resolve(String(options.spec))
        // Checked here first, so that a wrong spec is an error now and not a failed job later.
        const spec = readSpec(file)
        const payload = { spec: readFileSync(file, 'utf8'), dir: dirname(file) }
        return withRuntime(async (runtime) => {
          if (options.queue) {
            const { enqueueJob } = await import('../../jobs/index.js')
            const { id } = await enqueueJob(
              runtime.db.kysely,
              { kind: 'release.build', payload },
              { maxAttempts: 1 },
            )
            out.result({ job: id }, `Release build for ${spec.project} queued as job ${id}.`)
            return 0
          }
          const { runJobNow } = await import('../../runtime/index.js')
          const { result } = await runJobNow(
            runtime,
            { kind: 'release.build', payload },
            {
              onJobProgress: (job, done, total) =>
                job.kind === 'release.build' && out.progress(`release build: stage ${done + 1} of ${total}`),
            },
          )
          const built = result as {
            id: string
            dir: string
            persons: number
            tables: Array<{ name: string; rows: number }>
            stages: Array<{ stage: string; milliseconds: number }>
            k: number | null
          }
          out.result(
            {
              id: built.id,
              dir: built.dir,
              persons: built.persons,
              tables: built.tables,
              stages: built.stages,
              k: built.k,
            },
            [
              `Release ${built.id} built for ${spec.project}: ${built.persons} persons, in ${built.dir}`,
              ...built.tables.map((t) => `  ${t.name.padEnd(12)} ${String(t.rows).padStart(9)} rows`),
              `Stages: ${built.stages.map((s) => `${s.stage} ${s.milliseconds} ms`).join(', ')}`,
              `Signed (manifest.json); check it with \`tokumei release verify ${built.dir}\`.`,
            ],
          )
          return 0
        })
      }),
    )

  release
    .command('verify <dir>')
    .description('check a package from its files alone: signature, digests, the privacy model, Parquet = CSV')
    .option(
      '--public-key <file>',
      "the agency's published release key (32 raw bytes as base64, or a file holding it)",
    )
    .action(
      define(async ({ out }, options, dir) => {
        const { verifyPackage } = await import('../../release/index.js')
        let trusted: Uint8Array | undefined
        if (typeof options.publicKey === 'string') {
          const text = readFileSync(options.publicKey, 'utf8').trim()
          trusted = Buffer.from(text, 'base64')
        }
        const result = await verifyPackage(resolve(dir ?? '.'), trusted)
        out.result(result, [
          `${result.ok ? 'Verified' : 'NOT VERIFIED'}: ${result.kind} release ${result.release}`,
          ...result.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(12)} ${c.detail}`),
        ])
        return result.ok ? 0 : 1
      }),
    )

  release
    .command('list')
    .description('every release: project, state, persons')
    .action(
      define(async ({ withRuntime, out }) =>
        withRuntime(async (runtime) => {
          const rows = await runtime.db.kysely
            .selectFrom('governance.release as r')
            .innerJoin('governance.project as p', 'p.id', 'r.project_id')
            .select([
              'r.id',
              'r.kind',
              'r.state',
              'r.persons',
              'r.dir',
              'r.started_at',
              'r.error',
              'p.code as project',
            ])
            .orderBy('r.started_at')
            .execute()
          out.result(
            rows,
            rows.length === 0
              ? 'No releases yet.'
              : rows.map(
                  (r) =>
                    `${r.id}  ${r.kind.padEnd(10)} ${r.state.padEnd(8)} ${r.project}  ${r.persons ?? '-'} persons${r.error ? `  (${r.error})` : ''}`,
                ),
          )
          return 0
        }, 'portal'),
      ),
    )

  release
    .command('deliver <id>')
    .description(
      "encrypt a release to a recipient's key and make its download link (time- and count-limited)",
    )
    .requiredOption('--recipient <name>', 'a recipient named in the contract')
    .option('--hours <n>', 'the link works for this many hours', '72')
    .option('--downloads <n>', 'and at most this many times', '3')
    .option('--base-url <url>', "the portal's address, for the link", 'http://localhost:8080')
    .action(
      define(async ({ withRuntime, out }, options, id) =>
        withRuntime(async (runtime) => {
          const { createDelivery } = await import('../../release/index.js')
          const { deliveryContext } = await import('../../runtime/index.js')
          const delivery = await createDelivery(deliveryContext(runtime), {
            release: id ?? '',
            recipient: String(options.recipient),
            hours: positive(options.hours, '--hours', 72),
            downloads: positive(options.downloads, '--downloads', 3),
          })
          const link = `${String(options.baseUrl).replace(/\/$/, '')}/api/portal/v1/downloads/${delivery.token}`
          out.result({ ...delivery, link }, [
            `Delivery ${delivery.id} of ${delivery.release} to ${delivery.recipient} (key ${delivery.keyId}), ${delivery.bytes} bytes encrypted.`,
            `Link (shown once; works until ${delivery.expiresAt}, ${delivery.maxDownloads} download(s)): ${link}`,
          ])
          return 0
        }),
      ),
    )

  release
    .command('keygen')
    .description(
      "a recipient's key pair (X25519): give public.pem to the agency for the contract, keep private.pem",
    )
    .requiredOption('--out <dir>', 'where to write public.pem and private.pem')
    .action(
      define(async ({ out }, options) => {
        const { generateRecipientKeys } = await import('../../release/index.js')
        const dir = resolve(String(options.out))
        mkdirSync(dir, { recursive: true })
        const keys = generateRecipientKeys()
        writeFileSync(join(dir, 'private.pem'), keys.privateKeyPem, { mode: 0o600, flag: 'wx' })
        writeFileSync(join(dir, 'public.pem'), keys.publicKeyPem, { mode: 0o644 })
        out.result(
          { keyId: keys.keyId, dir },
          `Key ${keys.keyId}: ${join(dir, 'public.pem')} (give to the agency), ${join(dir, 'private.pem')} (keep).`,
        )
        return 0
      }),
    )

  release
    .command('open <file>')
    .description('decrypt a delivered package with your private key and unpack it (the recipient side)')
    .requiredOption('--key <file>', 'your private.pem')
    .requiredOption('--out <dir>', 'where to unpack it')
    .action(
      define(async ({ out }, options, file) => {
        const { decryptPackage, untar, verifyPackage } = await import('../../release/index.js')
        const { release: id, archive } = decryptPackage(
          readFileSync(file ?? ''),
          readFileSync(String(options.key), 'utf8'),
        )
        const dir = resolve(String(options.out))
        mkdirSync(dir, { recursive: true })
        const files = await untar(archive, dir)
        const verification = await verifyPackage(dir)
        out.result({ release: id, dir, files, verification }, [
          `Release ${id}: ${files} files in ${dir}.`,
          `${verification.ok ? 'Verified' : 'NOT VERIFIED'}: ${verification.checks.map((c) => `${c.name} ${c.ok ? 'ok' : 'FAILED'}`).join(', ')}`,
        ])
        return verification.ok ? 0 : 1
      }),
    )

  program
    .command('stats')
    .description('answer a statistical query with disclosure control; the table leaves as a signed package')
    .requiredOption('--query <file>', 'the query (YAML: project, measure, dimensions, filters, threshold)')
    .action(
      define(async ({ withRuntime, out }, options) => {
        const { parse } = await import('yaml')
        const { parseQuery, buildStatistics } = await import('../../release/index.js')
        const file = String(options.query)
        let data: unknown
        try {
          data = parse(readFileSync(file, 'utf8'))
        } catch {
          throw new TokumeiError(`${file} cannot be read as YAML.`, {
            code: 'stats.bad_query',
            kind: 'invalid',
          })
        }
        const query = parseQuery(data, file)
        return withRuntime(async (runtime) => {
          const { releaseBuildContext } = await import('../../runtime/index.js')
          const result = await buildStatistics(await releaseBuildContext(runtime), query)
          const width = result.header.map((h, c) =>
            Math.max(h.length, ...result.rows.map((r) => (r[c] as string).length)),
          )
          const line = (cells: readonly string[]) =>
            cells.map((v, c) => v.padEnd(width[c] as number)).join('  ')
          out.result(result, [
            `Statistics ${result.id} for ${query.project}: ${result.cohort} persons, ${result.cells} cells; ${result.primary} suppressed under ${query.threshold}, ${result.secondary} more to protect them.`,
            line(result.header),
            ...result.rows.slice(0, 60).map(line),
            ...(result.rows.length > 60
              ? [`… ${result.rows.length - 60} more rows in ${result.dir}/table.csv`]
              : []),
            `Signed package: ${result.dir}`,
          ])
          return 0
        })
      }),
    )

  program
    .command('trace <file>')
    .description('name the release a file, or a fragment of one, came from')
    .action(
      define(async ({ withRuntime, out }, _options, file) => {
        let bytes: Buffer
        try {
          bytes = readFileSync(file ?? '')
        } catch {
          throw new TokumeiError(`${file} cannot be read.`, { code: 'trace.unreadable', kind: 'invalid' })
        }
        return withRuntime(async (runtime) => {
          const { traceFile } = await import('../../release/index.js')
          const result = await traceFile(runtime.db.kysely, bytes)
          await runtime.audit({
            action: 'release.traced',
            target: `file:${result.sha256.slice(0, 16)}`,
            detail: { matches: result.matches.length, best: result.matches[0]?.release ?? null },
          })
          out.result(
            result,
            result.matches.length === 0
              ? `No release holds this file or its pseudonyms (${result.pseudonymsSeen} pseudonym-like values looked up).`
              : result.matches.map(
                  (m) =>
                    `${m.release}  project ${m.project}, contract ${m.contract}, to ${m.recipients.join('; ')} — ${m.evidence}`,
                ),
          )
          return result.matches.length === 0 ? 1 : 0
        })
      }),
    )

  const policy = program
    .command('policy')
    .description('policies of the persons table stored by name, for releases built from the portal')
  policy
    .command('add <name> <file>')
    .description('store (or replace) a policy under a name; checked first, audited')
    .option('--description <text>', 'what the policy is for, as the release builder lists it', '')
    .action(
      define(async ({ withRuntime, out }, options, name, file) => {
        let text: string
        try {
          text = readFileSync(file ?? '', 'utf8')
        } catch {
          throw new TokumeiError(`${file} cannot be read.`, { code: 'policy.unreadable', kind: 'invalid' })
        }
        return withRuntime(async (runtime) => {
          const { storePolicy } = await import('../../release/index.js')
          const stored = await storePolicy(
            { db: runtime.db.kysely, keyring: runtime.keyring, actor: runtime.actor },
            { name: name ?? '', text, description: String(options.description) },
          )
          out.result(
            stored,
            `Policy ${stored.name} stored: k = ${stored.k} on ${stored.quasiIdentifiers.join(', ')} (sha256 ${stored.sha256.slice(0, 16)}…).`,
          )
          return 0
        }, 'portal')
      }),
    )
  policy
    .command('list')
    .description('the default policy and the stored ones')
    .action(
      define(async ({ withRuntime, out }) =>
        withRuntime(async (runtime) => {
          const { listPolicies } = await import('../../release/index.js')
          const list = await listPolicies(runtime.db.kysely)
          out.result(
            list,
            list.map(
              (p) =>
                `${p.name.padEnd(16)} k = ${p.k}, suppression ≤ ${p.suppression * 100} %, on ${p.quasiIdentifiers.join(', ')}${p.description ? ` — ${p.description}` : ''}`,
            ),
          )
          return 0
        }, 'portal'),
      ),
    )
}
