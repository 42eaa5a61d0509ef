import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type * as Builtins from '../src/anonymize/hierarchy/builtin.js'
// The compiled engine (dist/, built by `npm ci`), as `tokumei` runs it: its worker threads then load
// plain JavaScript, not TypeScript through tsx.
import type * as Engine from '../src/anonymize/index.js'
import {
  ADULT_ATTRIBUTES,
  ADULT_DIR,
  ARX_RUNS,
  type ArxRun,
  adultHierarchyFile,
  HAS_ADULT,
} from '../test/support/adult.js'

const engine = (await import(new URL('../dist/anonymize/index.js', import.meta.url).href)) as typeof Engine
const builtins = (await import(
  new URL('../dist/anonymize/hierarchy/builtin.js', import.meta.url).href
)) as typeof Builtins
const {
  encodeColumn,
  generatedHierarchy,
  readArxHierarchy,
  readCsvTable,
  searchOptimal,
  suppressionHierarchy,
} = engine
const { ageBands, dateLevels, icd10Levels, intervalLevels, municipalityLevels } = builtins
type Hierarchy = Engine.Hierarchy

/**
 * The anonymization engine beside ARX (../shared/peers/README.md): the six Adult runs of ARX's own
 * k-anonymity examples (all 9 attributes quasi-identifying, ARX's hierarchies, loss metric), timed
 * in this process (median of 5 after a warm-up, as ARX's warm-JVM figures are) and as a whole
 * `tokumei anonymize` process; then a synthetic table of 1 000 000 rows with 8 quasi-identifiers.
 * The reference in the same process is one pass that groups the records by all their
 * quasi-identifiers (the work of checking a single node from scratch): the ratio says how many such
 * passes the whole optimal search costs. It runs the compiled engine: `npm run build` first after a
 * change.
 *
 *   npx tsx bench/anonymize.ts [--rows 1000000] [--skip-adult] [--skip-process]
 */
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    'skip-adult': { type: 'boolean', default: false },
    'skip-process': { type: 'boolean', default: false },
  },
})

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

/** One grouping pass over the records by every quasi-identifier, as the reference. */
function groupingPass(codes: readonly Int32Array[], radix: readonly number[], rows: number): number {
  const start = performance.now()
  const seen = new Map<number, number>()
  for (let r = 0; r < rows; r++) {
    let key = 0
    for (let a = 0; a < codes.length; a++)
      key = key * (radix[a] as number) + ((codes[a] as Int32Array)[r] as number)
    seen.set(key, (seen.get(key) ?? 0) + 1)
  }
  return performance.now() - start
}

const ADULT = ADULT_ATTRIBUTES

if (!values['skip-adult'] && HAS_ADULT) {
  const dir = ADULT_DIR
  const { table } = readCsvTable(join(dir, 'adult.csv'), { delimiter: ';' })
  const hierarchies = ADULT.map((n) =>
    readArxHierarchy(
      adultHierarchyFile(n),
      table.column(n) as NonNullable<ReturnType<typeof table.column>>,
      ';',
    ),
  )
  const qi = ADULT.map((n) => (table.column(n) as NonNullable<ReturnType<typeof table.column>>).codes)
  const reference = median(
    Array.from({ length: 5 }, () =>
      groupingPass(
        qi,
        hierarchies.map((h) => (h.labels[0] as readonly string[]).length),
        table.rows,
      ),
    ),
  )
  console.log(
    `Adult (${table.rows} rows, 9 quasi-identifiers, ARX's hierarchies, loss metric); reference: one grouping pass ${reference.toFixed(2)} ms`,
  )
  console.log(
    '| suppression | k | ours ms (median of 5) | ARX ms (warm JVM) | ratio ours/ARX | checked | levels | suppressed | classes | loss (ARX) |',
  )
  console.log('|---|---|---:|---:|---:|---:|---|---:|---:|---|')
  for (const suppression of [0, 0.02])
    for (const k of [2, 5, 10]) {
      const run = () =>
        searchOptimal({
          rows: table.rows,
          hierarchies,
          qi,
          sensitive: [],
          model: { k, sensitive: [] },
          maxSuppressed: Math.floor(suppression * table.rows),
          metric: 'loss',
        })
      await run()
      const times: number[] = []
      let result = await run()
      for (let i = 0; i < 5; i++) {
        const start = performance.now()
        result = await run()
        times.push(performance.now() - start)
      }
      const arx = ARX_RUNS.find((r) => r.suppression === suppression && r.k === k) as ArxRun
      let classes = 0
      for (let c = 0; c < result.classes.size; c++) if (!result.failing[c]) classes++
      const same =
        JSON.stringify(result.levels) === JSON.stringify(arx.levels)
          ? 'same as ARX'
          : `ARX ${JSON.stringify(arx.levels)}`
      console.log(
        `| ${suppression * 100} % | ${k} | ${median(times).toFixed(1)} | ${arx.ms} | ${(median(times) / arx.ms).toFixed(2)} | ${result.checked} | ${JSON.stringify(result.levels)} (${same}) | ${result.suppressed} (${arx.suppressed}) | ${classes} (${arx.classes}) | ${result.value.toFixed(4)} (${arx.loss}) |`,
      )
    }

  if (!values['skip-process']) {
    // The whole command, as a user runs it (node start, policy, CSV, search, the verifier, files),
    // for each of the six runs: the verifier's word on each, and the time of the k = 5 / 2 % one.
    const work = mkdtempSync(join(tmpdir(), 'tokumei-bench-anonymize-'))
    const bin = join(import.meta.dirname, '..', 'bin', 'tokumei.js')
    const times: number[] = []
    const verified: string[] = []
    for (const suppression of [0, 0.02])
      for (const k of [2, 5, 10]) {
        const policy = join(work, `policy-${suppression}-${k}.yaml`)
        writeFileSync(
          policy,
          `columns:\n${ADULT.map((n) => `  ${n}: { role: quasi-identifying, hierarchy: ${adultHierarchyFile(n)} }`).join('\n')}\nprivacy: { k: ${k}, suppression: ${suppression} }\nmetric: loss\ncsv: { delimiter: ";" }\n`,
        )
        const runs = suppression === 0.02 && k === 5 ? 3 : 1
        for (let i = 0; i < runs; i++) {
          const out = join(work, `out-${suppression}-${k}-${i}`)
          const start = performance.now()
          const printed = execFileSync(
            process.execPath,
            [bin, 'anonymize', '--policy', policy, '--input', join(dir, 'adult.csv'), '--out', out, '--json'],
            { stdio: 'pipe' },
          ).toString()
          if (runs === 3) times.push(performance.now() - start)
          if (i === 0) {
            const summary = JSON.parse(printed) as { verified: boolean; k: number; suppressed: number }
            verified.push(
              `${suppression * 100} %/k=${k}: ${summary.verified ? 'verified' : 'NOT VERIFIED'} (k ${summary.k}, ${summary.suppressed} suppressed)`,
            )
          }
        }
      }
    rmSync(work, { recursive: true, force: true })
    console.log(`\nThe verifier on the six outputs of \`tokumei anonymize\`: ${verified.join('; ')}`)
    console.log(
      `Whole process, k = 5 / 2 % (tokumei anonymize, median of 3): ${median(times).toFixed(0)} ms; ARX cold JVM whole process 2 300–2 400 ms; ratio ${(median(times) / 2350).toFixed(2)}`,
    )
  }
}

// A synthetic table of admissions: 8 quasi-identifiers with the built-in hierarchies.
const rows = Number(values.rows)
let state = 0x9e3779b9
const random = () => {
  state ^= state << 13
  state ^= state >>> 17
  state ^= state << 5
  return (state >>> 0) / 4294967296
}
const skewed = (n: number, s: number) => Math.min(n - 1, Math.floor(n * random() ** s))
const municipalities = Array.from({ length: 1700 }, (_, i) => {
  const prefecture = 1 + Math.floor((i * 47) / 1700)
  return `${String(prefecture).padStart(2, '0')}${String(100 + (i % 900)).padStart(3, '0')}`
})
const categories = ['A', 'C', 'E', 'F', 'G', 'I', 'J', 'K', 'M', 'N', 'S']
const diagnoses = Array.from(
  { length: 600 },
  (_, i) => `${categories[i % categories.length]}${String(10 + ((i * 7) % 80)).padStart(2, '0')}`,
)
const departments = [
  '内科',
  '外科',
  '整形外科',
  '小児科',
  '産婦人科',
  '眼科',
  '耳鼻咽喉科',
  '皮膚科',
  '泌尿器科',
  '精神科',
  '循環器内科',
  '消化器内科',
]
const columns = {
  age: new Array<string>(rows),
  sex: new Array<string>(rows),
  municipality: new Array<string>(rows),
  admitted: new Array<string>(rows),
  diagnosis: new Array<string>(rows),
  insurance: new Array<string>(rows),
  department: new Array<string>(rows),
  stay: new Array<string>(rows),
}
const generated = performance.now()
for (let r = 0; r < rows; r++) {
  columns.age[r] = String(Math.min(99, Math.floor(100 * random() ** 0.7)))
  columns.sex[r] = random() < 0.48 ? 'M' : 'F'
  columns.municipality[r] = municipalities[skewed(municipalities.length, 2)] as string
  const day = Math.floor(random() * 3652)
  columns.admitted[r] = new Date(Date.UTC(2015, 0, 1) + day * 86_400_000).toISOString().slice(0, 10)
  columns.diagnosis[r] = diagnoses[skewed(diagnoses.length, 2.5)] as string
  columns.insurance[r] = ['国保', '協会けんぽ', '組合健保', '共済', '後期高齢', '生活保護'][
    skewed(6, 1.5)
  ] as string
  columns.department[r] = departments[skewed(departments.length, 1.3)] as string
  columns.stay[r] = String(Math.floor(40 * random() ** 2))
}
const encoded = Object.fromEntries(Object.entries(columns).map(([name, v]) => [name, encodeColumn(name, v)]))
const c = (name: keyof typeof columns) => encoded[name] as ReturnType<typeof encodeColumn>
const hierarchies: Hierarchy[] = [
  generatedHierarchy(c('age'), 'builtin:age', ageBands({ top: 90 })),
  suppressionHierarchy(c('sex')),
  generatedHierarchy(c('municipality'), 'builtin:municipality', municipalityLevels()),
  generatedHierarchy(c('admitted'), 'builtin:date', dateLevels()),
  generatedHierarchy(c('diagnosis'), 'builtin:icd10', icd10Levels()),
  suppressionHierarchy(c('insurance')),
  generatedHierarchy(c('department'), 'builtin:department', (v) => [
    ['外科', '整形外科', '眼科', '耳鼻咽喉科', '泌尿器科', '皮膚科', '産婦人科'].includes(v)
      ? '外科系'
      : '内科系',
    '*',
  ]),
  generatedHierarchy(c('stay'), 'builtin:interval', intervalLevels({ width: 5, levels: 3 })),
]
const qi = Object.keys(columns).map((n) => c(n as keyof typeof columns).codes)
console.log(
  `\nSynthetic admissions: ${rows} rows, 8 quasi-identifiers (age, sex, municipality, admission date, ICD-10 category, insurance, department, length of stay), generated in ${((performance.now() - generated) / 1000).toFixed(1)} s; lattice ${hierarchies.reduce((p, h) => p * (h.height + 1), 1)} nodes`,
)
const reference = groupingPass(
  qi,
  hierarchies.map((h) => (h.labels[0] as readonly string[]).length),
  rows,
)
console.log(`reference: one grouping pass over the records ${reference.toFixed(0)} ms`)
console.log(
  '| suppression | k | search s | checked | levels | suppressed | classes | loss | ratio to one pass |',
)
console.log('|---|---|---:|---:|---|---:|---:|---:|---:|')
for (const [suppression, k] of [
  [0, 5],
  [0.01, 5],
  [0.02, 10],
] as const) {
  const start = performance.now()
  const result = await searchOptimal({
    rows,
    hierarchies,
    qi,
    sensitive: [],
    model: { k, sensitive: [] },
    maxSuppressed: Math.floor(suppression * rows),
    metric: 'loss',
  })
  const ms = performance.now() - start
  let classes = 0
  for (let i = 0; i < result.classes.size; i++) if (!result.failing[i]) classes++
  console.log(
    `| ${suppression * 100} % | ${k} | ${(ms / 1000).toFixed(2)} | ${result.checked} | ${JSON.stringify(result.levels)} | ${result.suppressed} | ${classes} | ${result.value.toFixed(4)} | ${(ms / reference).toFixed(1)} |`,
  )
}
