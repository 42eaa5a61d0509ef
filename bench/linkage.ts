import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { evaluateClusters } from '../src/identity/linkage/evaluate.js'
import { FIELDS } from '../src/identity/linkage/fields.js'
import { type LinkInput, type LinkResult, linkRecords } from '../src/identity/linkage/link.js'
import { VariantTable } from '../src/identity/normalize/index.js'
import { SHARED_DATA } from '../test/support/files.js'
import { FEBRL_DIR, febrl4Inputs, syntheticLinkInputs } from '../test/support/linkage.js'

/**
 * Linkage end to end in memory (normalize, block, compare, estimate, score, cluster) on synthetic
 * patients of several hospitals, and on FEBRL4 beside Python recordlinkage's published figures for it
 * (../shared/peers/README.md). The reference run in the same process is a trivial comparator (field
 * equality) over the same candidate pairs: the ratio says what the real comparators cost.
 *
 *   npx tsx bench/linkage.ts [--persons N] [--hospitals H]
 */
const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '100000' },
    hospitals: { type: 'string', default: '5' },
  },
})

/** The same candidate pairs through a trivial comparator (one equality per field). */
function trivialPairsPerSecond(result: LinkResult): number {
  const records = result.records
  const keys = ['surname', 'given', 'birthDate', 'sex', 'postalCode', 'phones', 'insurerNumber'] as const
  const start = performance.now()
  let agree = 0
  for (const link of [...result.links, ...result.review]) {
    const a = records[link.a] as unknown as Record<string, unknown>
    const b = records[link.b] as unknown as Record<string, unknown>
    for (const key of keys) if (a[key] === b[key]) agree++
  }
  const pairs = result.links.length + result.review.length
  const seconds = (performance.now() - start) / 1000
  return agree >= 0 && seconds > 0 ? pairs / seconds : Number.POSITIVE_INFINITY
}

function report(
  label: string,
  inputs: readonly LinkInput[],
  truth: readonly string[],
  result: LinkResult,
  ms: number,
) {
  const evaluation = evaluateClusters(result.clustering.clusterOf, truth)
  const compareSeconds = result.timings.compare / 1000
  const pairsPerSecond = result.candidates / Math.max(compareSeconds, 1e-9)
  const total = Object.values(result.timings).reduce((sum, t) => sum + t, 0)
  console.log(
    `\n${label}: ${inputs.length} records, ${result.candidates} candidate pairs, ${(ms / 1000).toFixed(1)} s`,
  )
  console.log(
    `  pairwise F1 ${evaluation.pairwise.f1.toFixed(4)} (precision ${evaluation.pairwise.precision.toFixed(4)}, recall ${evaluation.pairwise.recall.toFixed(4)}); B-cubed F1 ${evaluation.bcubed.f1.toFixed(4)}`,
  )
  console.log(
    `  compared ${Math.round(pairsPerSecond).toLocaleString('en')} pairs/s (${FIELDS.length} fields); to review: ${result.review.length}`,
  )
  console.log(
    `  time per stage: ${Object.entries(result.timings)
      .map(([stage, t]) => `${stage} ${((100 * t) / total).toFixed(0)}% (${(t / 1000).toFixed(1)} s)`)
      .join(', ')}`,
  )
  console.log(
    `  per pass (pairs / new): ${result.passes.map((p) => `${p.name} ${p.pairs}/${p.newPairs}${p.skippedBlocks ? ` [${p.skippedBlocks} blocks skipped]` : ''}`).join('; ')}`,
  )
  const trivial = trivialPairsPerSecond(result)
  console.log(
    `  reference (same process): a field-equality comparator over the scored pairs, ${Math.round(trivial).toLocaleString('en')} pairs/s; ratio ours/reference ${(pairsPerSecond / trivial).toFixed(3)}`,
  )
}

const variants = VariantTable.load(SHARED_DATA ? join(SHARED_DATA, 'itaiji', 'itaiji_list.yml') : undefined)
const febrl = FEBRL_DIR && existsSync(FEBRL_DIR) ? febrl4Inputs() : undefined
if (febrl) {
  const start = performance.now()
  const result = await linkRecords(febrl.inputs, { variants })
  report('FEBRL4', febrl.inputs, febrl.truth, result, performance.now() - start)
  console.log(
    '  Python recordlinkage 0.16 on FEBRL4 (peers/README.md): F1 0.790–0.918 in 1.0–2.7 s (blocking loses true pairs)',
  )
}
const generated = performance.now()
const { inputs, truth } = syntheticLinkInputs(
  Number(values.persons),
  Number(values.hospitals),
  'bench-linkage',
)
console.log(`\n(synthetic identities generated in ${((performance.now() - generated) / 1000).toFixed(1)} s)`)
const start = performance.now()
const result = await linkRecords(inputs, {
  variants,
  onStage: (stage, ms, detail) => console.log(`  … ${stage} done in ${(ms / 1000).toFixed(1)} s (${detail})`),
})
report(
  `Synthetic, ${values.persons} persons, ${values.hospitals} hospitals`,
  inputs,
  truth,
  result,
  performance.now() - start,
)
