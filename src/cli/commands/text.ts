import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { evaluateScrub, type PatientContext, scrubText } from '../../anonymize/index.js'
import { TokumeiError } from '../../model/index.js'
import type { CommandContext, Define } from '../main.js'

/** Reads standard input whole (a document, not a stream of records). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

const readInstitutions = (cwd: string, file: unknown): string[] | undefined =>
  file
    ? readFileSync(resolve(cwd, String(file)), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
    : undefined

const REGISTRY_HELP =
  'also find the names of every institution in the registry (governance.institution; opens the store as `tokumei institution list` does)'

/** The institutions to find: the file's, and the registry's when asked. */
async function institutionsFor(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<string[] | undefined> {
  const names = readInstitutions(context.io.cwd, options.institutions) ?? []
  if (options.registry) {
    const { listInstitutions } = await import('../../intake/index.js')
    const registered = await context.withRuntime(async (runtime) => listInstitutions(runtime.db.kysely))
    names.push(...registered.map((i) => i.name))
  }
  return names.length > 0 ? names : undefined
}

/**
 * `tokumei text scrub`: Japanese free text from standard input to standard output with every name,
 * address, phone, date, ID, e-mail and hospital replaced by a typed placeholder.
 */
export function registerTextCommands(program: Command, define: Define): void {
  const text = program.command('text').description('Japanese free text')
  text
    .command('scrub')
    .description(
      'replace names, addresses, phones, postal codes, dates (和暦 too), ages over 89, IDs, e-mail addresses and hospital names by ［氏名］, ［住所］ … (standard input to standard output)',
    )
    .option(
      '--patient-context <file>',
      'JSON with the patient’s own identifiers to find in every form: { "names": [...], "addresses": [...], "phones": [...], "ids": [...], "dates": [...] }',
    )
    .option('--institutions <file>', 'a file of hospital names, one a line, to find as written')
    .option('--registry', REGISTRY_HELP)
    .option('--input <file>', 'read this file instead of standard input')
    .option(
      '--date-offset <days>',
      'move full dates by this many days, kept in their written form (和暦 stays 和暦), instead of replacing them',
    )
    .action(
      define(async (context, options) => {
        const { io, out } = context
        let patient: PatientContext | undefined
        if (options.patientContext) {
          const file = resolve(io.cwd, String(options.patientContext))
          try {
            patient = JSON.parse(readFileSync(file, 'utf8')) as PatientContext
          } catch {
            throw new TokumeiError(`${file} is not a readable JSON patient context.`, {
              code: 'text.bad_context',
              kind: 'invalid',
            })
          }
        }
        const institutions = await institutionsFor(context, options)
        const input = options.input
          ? readFileSync(resolve(io.cwd, String(options.input)), 'utf8')
          : await readStdin()
        let dateOffset: number | undefined
        if (options.dateOffset !== undefined) {
          dateOffset = Number(options.dateOffset)
          if (!Number.isInteger(dateOffset) || Math.abs(dateOffset) > 36_500)
            throw new TokumeiError(
              `--date-offset must be a whole number of days (at most 36500 either way), not ${String(options.dateOffset)}.`,
              { code: 'text.bad_offset', kind: 'invalid' },
            )
        }
        const result = await scrubText(input, { patient, institutions, dateOffset })
        if (out.json)
          out.result(
            {
              text: result.text,
              spans: result.spans.map((s) => ({ start: s.start, end: s.end, kind: s.kind })),
            },
            [],
          )
        else io.stdout.write(result.text)
        return 0
      }),
    )

  text
    .command('evaluate')
    .description(
      'measure the scrubber on a synthetic data set (`tokumei synth --formats notes`) against its truth/note-identifiers.jsonl: recall, precision, by kind',
    )
    .argument('<dir>', 'the synthetic data set')
    .option('--institutions <file>', 'a file of hospital names, one a line, to find as written')
    .option('--registry', REGISTRY_HELP)
    .action(
      define(async (context, options, dir) => {
        const { io, out } = context
        const started = performance.now()
        const result = await evaluateScrub(resolve(io.cwd, String(dir)), {
          institutions: await institutionsFor(context, options),
          onNote: (done, total) => {
            if (done % 100 === 0 || done === total) out.progress(`${done} of ${total} note(s) …`)
          },
        })
        const seconds = (performance.now() - started) / 1000
        const percent = (x: number) => `${(x * 100).toFixed(2)} %`
        out.result({ ...result, seconds: Number(seconds.toFixed(2)) }, [
          `${result.notes} note(s), ${result.identifiers} identifier(s) in ${seconds.toFixed(1)} s.`,
          `Recall ${percent(result.recall)} (${result.found} replaced whole; ${percent(result.characterRecall)} of their characters).`,
          `Precision ${percent(result.precision)} (${result.truePositives} of ${result.spans} replaced span(s) touch an identifier).`,
          ...Object.entries(result.byKind).map(
            ([kind, f]) => `  ${kind}: ${f.found} of ${f.identifiers} (${percent(f.recall)})`,
          ),
          ...result.misses.map((m) => `  missed: ${m.kind} of ${m.length} character(s) in ${m.file}`),
          ...result.falsePositives.map(
            (m) => `  false positive: ${m.kind} of ${m.length} character(s) in ${m.file}`,
          ),
        ])
        return result.recall === 1 ? 0 : 1
      }),
    )
}
