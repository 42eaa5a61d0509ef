import { resolve } from 'node:path'
import type { Command } from 'commander'
import { anonymizeFiles, assessRisk, baseClasses, readCsvTable, readKeyFile } from '../../anonymize/index.js'
import { TokumeiError } from '../../model/index.js'
import type { Define } from '../main.js'

const percent = (x: number) => `${(100 * x).toFixed(2)} %`
const fixed = (x: number) => Number(x.toPrecision(4))

/**
 * `tokumei anonymize` (one CSV through a policy, with the verifier's word on the result) and
 * `tokumei risk` (the re-identification risk of a CSV's quasi-identifiers as they are). Both run
 * anywhere: the engine needs no database.
 */
export function registerAnonymizeCommands(program: Command, define: Define): void {
  program
    .command('anonymize')
    .description(
      'anonymize one CSV table by a policy (k-anonymity, ℓ-diversity, t-closeness; optimal generalization), verify the result and write DIR/data.csv and DIR/report.json',
    )
    .requiredOption('--policy <file>', 'the policy (YAML; hierarchy paths are relative to it)')
    .requiredOption('--input <file>', 'the table (CSV with a header row; UTF-8 or CP932)')
    .requiredOption('--out <dir>', 'an empty or new directory for data.csv and report.json')
    .option(
      '--key-file <file>',
      'the release key (64 hex digits) for pseudonyms and date offsets; default: a random key used once',
    )
    .action(
      define(async ({ io, out }, options) => {
        const started = Date.now()
        out.progress('anonymizing …')
        const { report, files } = await anonymizeFiles({
          onProgress: (message) => out.progress(message),
          policy: resolve(io.cwd, String(options.policy)),
          input: resolve(io.cwd, String(options.input)),
          out: resolve(io.cwd, String(options.out)),
          key: options.keyFile ? readKeyFile(resolve(io.cwd, String(options.keyFile))) : undefined,
        })
        const s = report.summary
        out.result(
          { ...s, output: files, verified: report.verification.ok, checked: report.search.checked },
          [
            `k = ${s.k} (required ${report.privacy.k.required}); ${s.classes} equivalence classes; ${s.suppressed} record(s) suppressed (at most ${report.privacy.suppression.maxRecords}).`,
            `Levels: ${Object.entries(s.levels)
              .map(([c, l]) => `${c} ${l}`)
              .join(', ')}.`,
            `Information loss (${s.metric}): ${fixed(s.informationLoss)}; ${report.search.checked} of ${report.search.latticeSize} generalizations checked in ${Date.now() - started} ms.`,
            `Risk: highest prosecutor ${fixed(report.risk.prosecutor.highest)}, average ${fixed(report.risk.prosecutor.average)}, records above ${report.risk.threshold}: ${percent(report.risk.prosecutor.recordsAtRisk)}.`,
            `Verified (${report.verification.checks.length} checks): ${files.data}, ${files.report}.`,
          ],
        )
        return 0
      }),
    )

  program
    .command('risk')
    .description(
      'the re-identification risk of a CSV table: equivalence classes of the quasi-identifiers, prosecutor, journalist and marketer risk, uniqueness',
    )
    .requiredOption('--input <file>', 'the table (CSV with a header row)')
    .requiredOption('--qi <columns>', 'the quasi-identifying columns, comma-separated')
    .option('--delimiter <char>', 'the field delimiter (default: guessed from the header)')
    .option(
      '--population <n>',
      'the population the table is a sample of (for journalist risk and population uniqueness)',
    )
    .option('--threshold <p>', 'a record is at risk above this prosecutor risk', '0.2')
    .action(
      define(async ({ io, out }, options) => {
        const file = resolve(io.cwd, String(options.input))
        const delimiter = options.delimiter === undefined ? undefined : String(options.delimiter)
        if (delimiter !== undefined && delimiter.length !== 1)
          throw new TokumeiError('--delimiter takes one character.', { code: 'cli.usage', kind: 'invalid' })
        const { table } = readCsvTable(file, { delimiter })
        const qi = String(options.qi)
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean)
        if (qi.length === 0)
          throw new TokumeiError('--qi names no column.', { code: 'cli.usage', kind: 'invalid' })
        for (const name of qi)
          if (!table.column(name))
            throw new TokumeiError(
              `${file} has no column ${name} (its columns: ${table.names.join(', ')}).`,
              {
                code: 'risk.column_missing',
                kind: 'invalid',
              },
            )
        const threshold = Number(options.threshold)
        if (!(threshold > 0 && threshold <= 1))
          throw new TokumeiError('--threshold must be a number above 0 and at most 1.', {
            code: 'cli.usage',
            kind: 'invalid',
          })
        const population = options.population === undefined ? undefined : Number(options.population)
        if (population !== undefined && (!Number.isInteger(population) || population < table.rows))
          throw new TokumeiError(
            `--population must be a whole number of at least the table's ${table.rows} rows.`,
            {
              code: 'cli.usage',
              kind: 'invalid',
            },
          )
        // The classes of the values as they are (nothing generalized).
        const columns = qi.map((name) => table.column(name) as NonNullable<ReturnType<typeof table.column>>)
        const classes = baseClasses(
          columns.map((c) => c.codes),
          columns.map((c) => c.dictionary.length),
          [],
          table.rows,
        )
        const sizes = Array.from(classes.counts)
        const risk = assessRisk(sizes, { population, threshold })
        const u = risk.populationUniqueness
        out.result({ input: file, qi, ...risk }, [
          `${risk.records} records in ${risk.classes} equivalence classes of ${qi.join(', ')} (sizes ${risk.classSize.min}–${risk.classSize.max}, median ${risk.classSize.median}).`,
          `Class sizes: ${risk.histogram
            .filter((b) => b.classes > 0)
            .map((b) => `${b.size}: ${b.classes} (${b.records} records)`)
            .join('; ')}.`,
          `Prosecutor risk: highest ${fixed(risk.prosecutor.highest)}, average ${fixed(risk.prosecutor.average)}, records above ${threshold}: ${percent(risk.prosecutor.recordsAtRisk)}.`,
          `Journalist risk (sampling fraction ${fixed(risk.samplingFraction)}): highest ${fixed(risk.journalist.highest)}, average ${fixed(risk.journalist.average)}; marketer risk ${fixed(risk.marketer)}.`,
          `Sample uniques: ${percent(risk.sampleUniques)} of the records.`,
          ...(u
            ? [
                `Population uniques (${u.model}): ${Math.round(u.uniques)} (${percent(u.share)} of ${population}); Pitman ${u.models.pitman === null ? '—' : Math.round(u.models.pitman)}, Zayatz ${u.models.zayatz === null ? '—' : Math.round(u.models.zayatz)}, SNB ${u.models.snb === null ? '—' : Math.round(u.models.snb)}.`,
              ]
            : []),
        ])
        return 0
      }),
    )
}
