import { existsSync, readdirSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { TokumeiError } from '../../model/index.js'
import {
  defaultSharedDataDir,
  generateSyntheticData,
  SYNTH_FORMATS,
  type SynthFormat,
} from '../../synth/index.js'
import type { Define } from '../main.js'

function positiveInteger(name: string, value: unknown, max: number): number {
  const n = Number(value)
  if (!/^\d+$/.test(String(value)) || n < 1 || n > max) {
    throw new TokumeiError(`${name} must be a whole number from 1 to ${max} (got "${String(value)}").`, {
      code: 'cli.bad_number',
      kind: 'invalid',
    })
  }
  return n
}

export function registerSynthCommand(program: Command, define: Define): void {
  program
    .command('synth')
    .description(
      'write realistic synthetic multi-hospital data (SS-MIX2, .UKE, FHIR, DICOM, notes) with ground truth',
    )
    .requiredOption('--out <dir>', 'an empty or new directory to write into')
    .option('--persons <n>', 'how many persons', '1000')
    .option('--hospitals <n>', 'how many hospitals', '5')
    .option('--seed <seed>', 'the same seed gives byte-identical output', '1')
    .option('--formats <list>', `comma-separated: ${SYNTH_FORMATS.join(',')}`, SYNTH_FORMATS.join(','))
    .option(
      '--shared-data <dir>',
      'the public name and 異体字 lists (default: TOKUMEI_SHARED_DATA or ../shared/data)',
    )
    .action(
      define(async ({ io, out }, options) => {
        const persons = positiveInteger('--persons', options.persons, 100_000_000)
        const hospitals = positiveInteger('--hospitals', options.hospitals, 10_000)
        const formats = String(options.formats)
          .split(',')
          .map((f) => f.trim())
          .filter(Boolean)
        const unknown = formats.filter((f) => !(SYNTH_FORMATS as readonly string[]).includes(f))
        if (unknown.length > 0 || formats.length === 0) {
          throw new TokumeiError(
            `--formats takes ${SYNTH_FORMATS.join(', ')} (got "${String(options.formats)}").`,
            {
              code: 'cli.bad_formats',
              kind: 'invalid',
            },
          )
        }
        const dir = resolve(io.cwd, String(options.out))
        if (existsSync(dir) && readdirSync(dir).length > 0) {
          throw new TokumeiError(
            `${dir} is not empty: choose an empty or new directory for the synthetic data.`,
            {
              code: 'synth.out_not_empty',
              kind: 'invalid',
            },
          )
        }
        const sharedDataDir = options.sharedData
          ? resolve(io.cwd, String(options.sharedData))
          : defaultSharedDataDir(io.env)
        const started = Date.now()
        let lastReport = started
        const report = await generateSyntheticData({
          persons,
          hospitals,
          seed: String(options.seed),
          out: dir,
          formats: new Set(formats as SynthFormat[]),
          sharedDataDir,
          onProgress: (done, total) => {
            if (Date.now() - lastReport < 2000 && done !== total) return
            lastReport = Date.now()
            out.progress(
              `synth: ${done}/${total} persons (${Math.round((((Date.now() - started) / done) * (total - done)) / 1000)} s left)`,
            )
          },
        })
        const seconds = (Date.now() - started) / 1000
        const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024)
        out.result({ ...report, out: dir, seconds, peakRssMb }, [
          `Wrote ${report.persons} persons at ${report.hospitals.length} hospitals (${report.personHospitalPairs} patient records) to ${dir}`,
          `  ${report.files} files, ${(report.bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s (peak memory ${peakRssMb} MB); formats ${report.formats.join(', ')}; names from ${report.names === 'shared' ? 'shared/data' : 'the built-in list'}`,
          `  ground truth in ${dir}/truth (persons.csv, canaries.txt, optouts.csv, notices.csv, adverse_events.csv, hospitals.csv${report.formats.includes('notes') ? ', note-identifiers.jsonl' : ''})`,
        ])
        return 0
      }),
    )
}
