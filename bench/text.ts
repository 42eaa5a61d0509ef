/**
 * The Japanese text scrubber on synthetic discharge summaries: recall and precision against the
 * generator's truth (where every identifier stands), and notes/s and MB/s. The reference, run in
 * the same process on the same notes, is kuromoji's tokenization alone, the step the scrubber
 * cannot do without: the ratio says what the patterns, the merging and the replacing cost on top.
 *
 *   npx tsx bench/text.ts [--persons 3000] [--runs 3]
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { evaluateScrub, loadTokenizer, scrubText } from '../src/anonymize/index.js'

const { values } = parseArgs({
  options: { persons: { type: 'string', default: '3000' }, runs: { type: 'string', default: '3' } },
})
const runs = Number(values.runs)
const work = mkdtempSync(join(tmpdir(), 'tokumei-bench-text-'))
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

try {
  execFileSync(
    process.execPath,
    [
      join(import.meta.dirname, '..', 'bin', 'tokumei.js'),
      'synth',
      '--persons',
      String(values.persons),
      '--hospitals',
      '5',
      '--formats',
      'notes',
      '--seed',
      'bench-text',
      '--out',
      work,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const files = readFileSync(join(work, 'truth', 'note-identifiers.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { file: string }).file)
  const notes = files.map((f) => readFileSync(join(work, f), 'utf8'))
  const bytes = notes.reduce((sum, n) => sum + Buffer.byteLength(n), 0)

  const evaluation = await evaluateScrub(work)
  const tokenizer = await loadTokenizer()
  const time = async (run: () => Promise<void> | void) => {
    const start = performance.now()
    await run()
    return (performance.now() - start) / 1000
  }
  // One untimed pass of each first: the JIT and the dictionary's pages warm, for both alike.
  for (const n of notes.slice(0, 200)) {
    tokenizer.tokenize(n)
    await scrubText(n)
  }
  const scrub: number[] = []
  const tokenize: number[] = []
  for (let r = 0; r < runs; r++) {
    tokenize.push(
      await time(() => {
        for (const n of notes) tokenizer.tokenize(n)
      }),
    )
    scrub.push(
      await time(async () => {
        for (const n of notes) await scrubText(n)
      }),
    )
  }
  const [s, t] = [median(scrub), median(tokenize)]
  const percent = (x: number) => `${(x * 100).toFixed(2)} %`
  console.log(
    `${evaluation.notes} notes, ${evaluation.identifiers} identifiers, ${(bytes / 1e6).toFixed(2)} MB (${values.persons} persons, 5 hospitals)`,
  )
  console.log(
    `recall ${percent(evaluation.recall)} (${evaluation.found}/${evaluation.identifiers}), precision ${percent(evaluation.precision)} (${evaluation.truePositives}/${evaluation.spans} spans)`,
  )
  for (const [kind, f] of Object.entries(evaluation.byKind))
    console.log(
      `  ${kind.padEnd(5, '　')} ${String(f.found).padStart(6)}/${String(f.identifiers).padEnd(6)} ${percent(f.recall)}`,
    )
  console.log(`median of ${runs} runs, one process:`)
  console.log(
    `  scrub            ${(notes.length / s).toFixed(0).padStart(6)} notes/s  ${(bytes / 1e6 / s).toFixed(2)} MB/s`,
  )
  console.log(
    `  kuromoji alone   ${(notes.length / t).toFixed(0).padStart(6)} notes/s  ${(bytes / 1e6 / t).toFixed(2)} MB/s`,
  )
  console.log(`  ratio scrub / tokenization time: ${(s / t).toFixed(2)}×`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
