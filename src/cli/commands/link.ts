import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import {
  decidePair,
  evaluateAgainstTruth,
  type PairView,
  pairsToReview,
  viewPair,
} from '../../identity/index.js'
import { enqueueJob } from '../../jobs/index.js'
import { TokumeiError } from '../../model/index.js'
import { createWorker } from '../../runtime/index.js'
import { idArgument } from '../args.js'
import type { Define } from '../main.js'

/**
 * `tokumei link`: identity resolution (名寄せ) on the core host — run the linkage job, review the
 * uncertain pairs (refs, weights and per-field agreement; never a name), and evaluate the persons
 * against a ground truth.
 */
export function registerLinkCommands(program: Command, define: Define): void {
  const link = program
    .command('link')
    .description('identity resolution (名寄せ): persons across institutions')
  link
    .command('run')
    .description(
      'link the patients not linked yet into persons (a core job, run here until done); a full run relinks everyone and trains the model anew',
    )
    .option('--full', 'relink every patient and train the model anew (the first run is always full)')
    .option(
      '--incremental',
      'link only new or changed patients, with the last run’s model (an error if none fits)',
    )
    .action(
      define(async ({ withRuntime, out }, options: { full?: boolean; incremental?: boolean }) => {
        if (options.full && options.incremental)
          throw new TokumeiError('Choose --full or --incremental, not both.', {
            code: 'cli.usage',
            kind: 'invalid',
          })
        const mode = options.full ? 'full' : options.incremental ? 'incremental' : 'auto'
        return withRuntime(async (runtime) => {
          const { id } = await enqueueJob(
            runtime.db.kysely,
            { kind: 'link.run', payload: { mode } },
            { maxAttempts: runtime.config.jobs.maxAttempts },
          )
          const worker = createWorker(runtime, {
            onJobFailed: (job, error) => out.warn(`job ${job.id} (${job.kind}) failed: ${error}`),
          })
          await worker.run({ untilIdle: true })
          const job = await runtime.db.kysely
            .selectFrom('jobs.job')
            .select(['status', 'last_error'])
            .where('id', '=', id)
            .executeTakeFirstOrThrow()
          const run =
            job.status === 'done'
              ? await runtime.db.kysely
                  .selectFrom('identity.link_run')
                  .selectAll()
                  .where('job_id', '=', id)
                  .executeTakeFirst()
              : undefined
          if (!run)
            throw new TokumeiError(
              `The linkage job ${id} did not finish (${job.status}${job.last_error ? `: ${job.last_error}` : ''}); see \`tokumei jobs status\`.`,
              { code: 'link.not_run', kind: 'internal' },
            )
          out.result(run, [
            run.mode === 'full'
              ? `Linkage run ${run.id} (full): ${run.records} patient(s) → ${run.persons} person(s); ${run.candidates} candidate pair(s), ${run.links} linked, ${run.review} to review; ${run.merges} merge(s), ${run.splits} split(s).`
              : `Linkage run ${run.id} (incremental): ${run.pending ?? 0} new or changed patient(s), compared with ${run.records - (run.pending ?? 0)} linked patient(s) → ${run.persons} person(s) touched; ${run.candidates} candidate pair(s), ${run.links} linked, ${run.review} to review; ${run.merges} merge(s), ${run.splits} split(s).`,
          ])
          return 0
        })
      }),
    )
  const review = link
    .command('review')
    .description('pairs the model was unsure of: list, show, accept, reject')
  review
    .command('list')
    .description('pairs waiting for a decision, strongest first, with each field’s agreement and weight')
    .option('--limit <n>', 'at most this many', '50')
    .action(
      define(async ({ withRuntime, out }, options) => {
        return withRuntime(async (runtime) => {
          const pairs = await pairsToReview(runtime.db.kysely, Number(options.limit) || 50)
          out.result(
            pairs,
            pairs.length > 0
              ? pairs.map((p) => {
                  const why = p.explanation as {
                    fields: Array<{ field: string; level: string | null; weight: number }>
                  }
                  return `${p.a} ~ ${p.b}  weight ${p.weight.toFixed(1)}  ${why.fields
                    .filter((f) => f.level !== null)
                    .map((f) => `${f.field}: ${f.level} (${f.weight >= 0 ? '+' : ''}${f.weight.toFixed(1)})`)
                    .join('; ')}`
                })
              : 'No pairs to review.',
          )
          return 0
        })
      }),
    )
  review
    .command('show <a> <b>')
    .description(
      "a pair side by side with both patients' identities, for the decision (the one view of personal data; audited)",
    )
    .action(
      define(async ({ withRuntime, out }, _options, a, b) => {
        return withRuntime(async (runtime) => {
          const view = await viewPair(
            { db: runtime.db.kysely, keyring: runtime.keyring, actor: runtime.actor },
            { a: idArgument(a, 'patient reference'), b: idArgument(b, 'patient reference') },
          )
          const rows: Array<[string, (v: PairView['a']) => string | undefined]> = [
            ['institution', (v) => v.institution],
            ['name', (v) => [v.identity.surname, v.identity.given].filter(Boolean).join(' ') || undefined],
            [
              'reading',
              (v) => [v.identity.surnameKana, v.identity.givenKana].filter(Boolean).join(' ') || undefined,
            ],
            ['birth date', (v) => v.identity.birthDate],
            ['sex', (v) => v.identity.sex],
            ['postal code', (v) => v.identity.postalCode],
            ['address', (v) => v.identity.address],
            ['phone', (v) => v.identity.phones.join(', ') || undefined],
            [
              'insurance',
              (v) =>
                [v.identity.insurerNumber, v.identity.insuredSymbol, v.identity.insuredNumber]
                  .filter(Boolean)
                  .join(' ') || undefined,
            ],
          ]
          const why = view.explanation as {
            fields?: Array<{ field: string; level: string | null; weight: number }>
          }
          out.result(view, [
            `Pair ${view.a.ref} ~ ${view.b.ref} (${view.state}), weight ${view.weight.toFixed(1)}`,
            ...rows.map(
              ([label, get]) => `  ${label.padEnd(12)} ${get(view.a) ?? '—'}  |  ${get(view.b) ?? '—'}`,
            ),
            ...(why.fields ?? [])
              .filter((f) => f.level !== null)
              .map((f) => `  ${f.field}: ${f.level} (${f.weight >= 0 ? '+' : ''}${f.weight.toFixed(1)})`),
          ])
          return 0
        })
      }),
    )
  for (const [name, decision] of [
    ['accept', 'accepted'],
    ['reject', 'rejected'],
  ] as const) {
    review
      .command(`${name} <a> <b>`)
      .description(`${name} a pair (final: the decision binds every later run)`)
      .action(
        define(async ({ withRuntime, out }, _options, a, b) => {
          return withRuntime(async (runtime) => {
            await decidePair(
              { db: runtime.db.kysely, keyring: runtime.keyring, actor: runtime.actor },
              { a: idArgument(a, 'patient reference'), b: idArgument(b, 'patient reference'), decision },
            )
            out.result(
              { a: idArgument(a, 'patient reference'), b: idArgument(b, 'patient reference'), decision },
              `Pair ${a} ~ ${b} ${decision}; the next \`tokumei link run\` applies it.`,
            )
            return 0
          })
        }),
      )
  }
  link
    .command('evaluate')
    .description('compare the persons with a ground truth (person_id,institution_code,local_patient_id)')
    .requiredOption('--truth <file>', 'the truth CSV, e.g. truth/persons.csv of `tokumei synth`')
    .action(
      define(async ({ withRuntime, out, io }, options) => {
        const file = resolve(io.cwd, String(options.truth))
        let text: string
        try {
          text = readFileSync(file, 'utf8')
        } catch {
          throw new TokumeiError(`Cannot read the truth file ${file}.`, {
            code: 'link.bad_truth',
            kind: 'invalid',
          })
        }
        return withRuntime(async (runtime) => {
          const result = await evaluateAgainstTruth(runtime.db.kysely, runtime.keyring, text)
          const f = (x: number) => x.toFixed(4)
          out.result(
            {
              pairwise: {
                precision: result.pairwise.precision,
                recall: result.pairwise.recall,
                f1: result.pairwise.f1,
              },
              bcubed: result.bcubed,
              patients: result.patients,
              missing: result.missing,
            },
            [
              `Pairwise: precision ${f(result.pairwise.precision)}, recall ${f(result.pairwise.recall)}, F1 ${f(result.pairwise.f1)}`,
              `B-cubed:  precision ${f(result.bcubed.precision)}, recall ${f(result.bcubed.recall)}, F1 ${f(result.bcubed.f1)}`,
              `${result.patients} patient(s) compared${result.missing ? `; ${result.missing} in the truth are not in the vault` : ''}.`,
            ],
          )
          return 0
        })
      }),
    )
}
