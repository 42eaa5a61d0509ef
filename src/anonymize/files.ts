import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { TokumeiError } from '../model/index.js'
import { type AnonymizationReport, anonymizeTable } from './anonymize.js'
import { parseCsv, readCsvTable, tableToCsv } from './csv.js'
import { readPolicy } from './policy/policy.js'
import { type Verification, verifyAnonymization } from './verify/verify.js'

/**
 * `tokumei anonymize` on files: policy + one CSV in, `DIR/data.csv` and `DIR/report.json` out. The
 * output is written under temporary names, read back and checked by the independent verifier; only
 * a verified output takes its final names. A failed one leaves no data behind, only
 * `verification-failed.json` saying which check failed.
 */
export interface AnonymizeFilesOptions {
  readonly policy: string
  readonly input: string
  readonly out: string
  /** The release key (32 bytes); a fresh random one when not given, kept nowhere. */
  readonly key?: Uint8Array
  readonly onProgress?: (message: string) => void
}

export interface AnonymizeFilesResult {
  readonly report: AnonymizationReport & { readonly verification: Verification; readonly key: string }
  readonly files: { readonly data: string; readonly report: string }
}

export async function anonymizeFiles(options: AnonymizeFilesOptions): Promise<AnonymizeFilesResult> {
  const policy = readPolicy(options.policy)
  if (existsSync(options.out) && readdirSync(options.out).length > 0)
    throw new TokumeiError(`${options.out} is not empty: choose an empty or new directory for the output.`, {
      code: 'anonymize.out_not_empty',
      kind: 'invalid',
      details: { dir: options.out },
    })
  const { table, csv } = readCsvTable(options.input, {
    delimiter: policy.csv.delimiter,
    encoding: policy.csv.encoding,
  })
  const key = options.key ?? randomBytes(32)
  options.onProgress?.(`read ${table.rows} rows of ${table.columns.length} columns`)
  const { output, report } = await anonymizeTable(table, policy, {
    key,
    source: basename(options.input),
    onProgress: options.onProgress,
  })
  options.onProgress?.(
    `chose levels ${Object.entries(report.summary.levels)
      .map(([c, l]) => `${c} ${l}`)
      .join(', ')}; writing and verifying the output`,
  )
  mkdirSync(options.out, { recursive: true })
  const data = join(options.out, 'data.csv')
  const partial = join(options.out, '.data.csv.partial')
  writeFileSync(partial, tableToCsv(output, csv.delimiter))
  // Read back from the file as a recipient would, and checked by the verifier's own code.
  const written = parseCsv(readFileSync(partial, 'utf8'), partial, csv.delimiter)
  const transformedSensitive = report.columns
    .filter((c) => c.role === 'sensitive' && (c.coding || c.rare || c.dateShift))
    .map((c) => c.column)
  const reference = Object.fromEntries(
    report.privacy.sensitive
      .filter((s) => s.closeness && transformedSensitive.includes(s.column))
      .map((s) => [s.column, s.closeness?.reference ?? {}]),
  )
  const verification = verifyAnonymization({ input: csv, output: written, policy, reference })
  if (!verification.ok) {
    rmSync(partial, { force: true })
    writeFileSync(
      join(options.out, 'verification-failed.json'),
      `${JSON.stringify({ verification, summary: report.summary }, null, 2)}\n`,
    )
    const failed = verification.checks.find((c) => !c.ok)
    throw new TokumeiError(
      `The output failed the verifier (${failed?.name}: ${failed?.detail}); nothing was released — see ${join(options.out, 'verification-failed.json')}.`,
      { code: 'anonymize.verification_failed', kind: 'check_failed', details: { check: failed?.name ?? '' } },
    )
  }
  renameSync(partial, data)
  const full = {
    ...report,
    key: options.key
      ? 'given (--key-file)'
      : 'random for this run, kept nowhere: pseudonyms and date offsets cannot be reversed or joined with another run',
    verification,
  }
  const reportFile = join(options.out, 'report.json')
  writeFileSync(reportFile, `${JSON.stringify(full, null, 2)}\n`)
  return { report: full, files: { data, report: reportFile } }
}
