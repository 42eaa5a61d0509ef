import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import type { Command } from 'commander'
// The DICOM modules themselves, not the anonymization index: this command starts in a fraction of
// the time without the tables' engine, schemas and CSV readers it does not use.
import { DICOM_OPTIONS, type DicomOption } from '../../anonymize/dicom/actions.js'
import { deidentifyTree, LAYOUTS, type Layout } from '../../anonymize/dicom/tree.js'
import { readKeyFile } from '../../anonymize/key-file.js'
import { TokumeiError } from '../../model/index.js'
import type { Define } from '../main.js'

/**
 * `tokumei dicom deid IN OUT`: DICOM de-identification by PS3.15 Annex E's Basic Profile and options,
 * on a file or a tree, needing no database (releases run the same code).
 */
export function registerDicomCommands(program: Command, define: Define): void {
  const dicom = program.command('dicom').description('DICOM images')
  dicom
    .command('deid')
    .description(
      'de-identify DICOM files (PS3.15 Annex E Basic Application Level Confidentiality Profile): every attribute of Table E.1-1 by its action, private tags removed, UIDs replaced by HMAC-derived 2.25 UIDs, objects with burned-in text withheld or, where a rule says where it is, blanked',
    )
    .argument('<in>', 'a DICOM file or a directory tree of them')
    .argument('<out>', 'an empty or new directory: OUT/<study>/<series>/<instance>.dcm')
    .option('--option <list>', `profile options, comma-separated: ${DICOM_OPTIONS.join(', ')}`, '')
    .option('--key-file <file>', 'the release key (64 hex digits); default: a random key used once')
    .option('--days <n>', 'date shifts span ± this many days (with retain-long-modified-dates)', '365')
    .option(
      '--layout <layout>',
      `where outputs go: series (OUT/<study>/<series>/<instance>.dcm), study (OUT/<study>/<instance>.dcm) or flat (OUT/<instance>.dcm)`,
      'series',
    )
    .option('--keep-burned-in', 'write objects that may have burned-in text instead of withholding them')
    .option(
      '--keep-private <file>',
      'YAML or JSON allow-list of private attributes to keep: { keep: [{ creator: "GEMS_ACQU_01", tag: "0019,xx0C", name }] }; every other private attribute is removed',
    )
    .option(
      '--burned-in-regions <file>',
      'YAML or JSON rules saying where burned-in text is: { rules: [{ name, match: { modality, manufacturer, model, sopClass, rows, columns }, regions: [{ x, y, width, height }] }] }; matching native images are blanked there (Clean Pixel Data) instead of withheld',
    )
    .action(
      define(async ({ io, out }, options, input, output) => {
        const chosen = String(options.option ?? '')
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean)
        const unknown = chosen.filter((o) => !(DICOM_OPTIONS as readonly string[]).includes(o))
        if (unknown.length > 0)
          throw new TokumeiError(
            `Unknown option ${unknown.join(', ')}: the options are ${DICOM_OPTIONS.join(', ')}.`,
            {
              code: 'cli.usage',
              kind: 'invalid',
            },
          )
        const days = Number(options.days)
        if (!Number.isInteger(days) || days < 1 || days > 3650)
          throw new TokumeiError('--days must be a whole number from 1 to 3650.', {
            code: 'cli.usage',
            kind: 'invalid',
          })
        // The operator's files are read by a module with a schema library: loaded only when given.
        const files =
          options.burnedInRegions || options.keepPrivate
            ? await import('../../anonymize/dicom/rules-file.js')
            : undefined
        const burnedInRules = options.burnedInRegions
          ? files?.readBurnedInRules(resolve(io.cwd, String(options.burnedInRegions)))
          : undefined
        const privateAllowList = options.keepPrivate
          ? files?.readPrivateAllowList(resolve(io.cwd, String(options.keepPrivate)))
          : undefined
        const layout = String(options.layout)
        if (!(LAYOUTS as readonly string[]).includes(layout))
          throw new TokumeiError(`--layout must be one of ${LAYOUTS.join(', ')}, not ${layout}.`, {
            code: 'cli.usage',
            kind: 'invalid',
          })
        const key = options.keyFile ? readKeyFile(resolve(io.cwd, String(options.keyFile))) : randomBytes(32)
        const result = await deidentifyTree(
          resolve(io.cwd, String(input)),
          resolve(io.cwd, String(output)),
          {
            key,
            options: new Set(chosen as DicomOption[]),
            shiftDays: days,
            withholdBurnedIn: !options.keepBurnedIn,
            burnedInRules,
            privateAllowList,
            layout: layout as Layout,
          },
          (done) => out.progress(`${done} file(s) …`),
        )
        out.result(result, [
          `${result.deidentified} of ${result.files} file(s) de-identified into ${result.studies} study(ies) (${(result.bytes / 1e6).toFixed(1)} MB in ${result.milliseconds} ms); ${result.privateRemoved} private attribute(s) removed${result.privateKept > 0 ? `, ${result.privateKept} kept by the allow-list` : ''}${result.pixelsCleaned > 0 ? `; burned-in text blanked in ${result.pixelsCleaned}` : ''}.`,
          ...(result.withheld.length > 0
            ? [
                `Withheld for review (possible burned-in text), ${result.withheld.length}:`,
                ...result.withheld.map((w) => `  ${w.path}: ${w.reason}`),
              ]
            : []),
          ...(result.refused.length > 0
            ? [
                `Not de-identified, ${result.refused.length}:`,
                ...result.refused.map((r) => `  ${r.path}: ${r.reason}`),
              ]
            : []),
        ])
        return 0
      }),
    )
}
