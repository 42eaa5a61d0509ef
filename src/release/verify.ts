import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { checkPublished } from '../stats/index.js'
import { checkPackageFiles, type Manifest, type PackageCheck, readManifest } from './package.js'

/**
 * `release verify DIR`: from the package's files alone — no database, no key but the public one in
 * the manifest (or the one the agency published, when given) — the signature, every file's digest,
 * the privacy model (every class of the quasi-identifiers in the persons table has at least k
 * persons), that the Parquet files hold what the CSV files hold, that every event belongs to a person
 * of the persons table, and for statistics that no published cell is under the threshold.
 */
export interface PackageVerification {
  readonly ok: boolean
  readonly release: string
  readonly kind: Manifest['kind']
  readonly checks: readonly PackageCheck[]
}

const readCsv = (path: string): string[][] =>
  parse(readFileSync(path, 'utf8'), { relax_column_count: false, skip_empty_lines: true }) as string[][]

export async function verifyPackage(dir: string, trusted?: Uint8Array): Promise<PackageVerification> {
  const manifest = readManifest(dir)
  const checks: PackageCheck[] = [...checkPackageFiles(dir, manifest, trusted)]
  const filesOk = checks.every((c) => c.ok)
  if (filesOk && manifest.privacy) checks.push(...privacyChecks(dir, manifest))
  if (filesOk && manifest.disclosure) checks.push(await disclosureCheck(dir, manifest))
  if (filesOk) checks.push(await parquetCheck(dir, manifest))
  return { ok: checks.every((c) => c.ok), release: manifest.release, kind: manifest.kind, checks }
}

function privacyChecks(dir: string, manifest: Manifest): PackageCheck[] {
  const privacy = manifest.privacy as NonNullable<Manifest['privacy']>
  const [header, ...rows] = readCsv(join(dir, privacy.table))
  if (!header) return [{ name: 'k-anonymity', ok: false, detail: `${privacy.table} is empty` }]
  const at = privacy.quasiIdentifiers.map((q) => header.indexOf(q))
  if (at.some((i) => i < 0))
    return [
      { name: 'k-anonymity', ok: false, detail: `${privacy.table} lacks a quasi-identifier of the manifest` },
    ]
  const classes = new Map<string, number>()
  for (const row of rows) {
    const key = at.map((i) => row[i]).join('\u0000')
    classes.set(key, (classes.get(key) ?? 0) + 1)
  }
  const smallest = rows.length === 0 ? 0 : Math.min(...classes.values())
  const checks: PackageCheck[] = [
    {
      name: 'k-anonymity',
      ok: rows.length === 0 || smallest >= privacy.k,
      detail: `${rows.length} persons in ${classes.size} classes of ${privacy.quasiIdentifiers.join(', ')}; the smallest has ${smallest} (k = ${privacy.k})`,
    },
  ]
  const personAt = header.indexOf(privacy.person)
  const persons = new Set(rows.map((r) => r[personAt] as string))
  const strays: string[] = []
  for (const file of manifest.files) {
    if (!file.path.endsWith('.csv') || file.path === privacy.table || file.path === 'data_dictionary.csv')
      continue
    const [h, ...events] = readCsv(join(dir, file.path))
    const p = h?.indexOf(privacy.person) ?? -1
    if (p < 0) continue
    if (events.some((e) => !persons.has(e[p] as string))) strays.push(file.path)
  }
  checks.push({
    name: 'persons',
    ok: strays.length === 0,
    detail:
      strays.length === 0
        ? 'every event belongs to a person of the persons table'
        : `events of persons not in ${privacy.table}: ${strays.join(', ')}`,
  })
  return checks
}

async function disclosureCheck(dir: string, manifest: Manifest): Promise<PackageCheck> {
  const { threshold, tables, rounding } = manifest.disclosure as NonNullable<Manifest['disclosure']>
  const problems: string[] = []
  let suppressed = 0
  for (const name of tables) {
    const [header, ...rows] = readCsv(join(dir, name))
    if (!header?.includes('count')) {
      problems.push(`${name} has no count column`)
      continue
    }
    if (rounding) {
      // Rounded counts do not add up exactly: only the threshold is checked.
      const at = header.indexOf('count')
      const small = rows.filter(
        (r) => /^\d+$/.test(r[at] as string) && Number(r[at]) > 0 && Number(r[at]) < threshold,
      )
      if (small.length > 0) problems.push(`${name}: ${small.length} counts under ${threshold}`)
      continue
    }
    const result = await checkPublished(header, rows, threshold)
    suppressed += result.suppressed
    if (!result.complete) problems.push(`${name} does not hold every cell and margin of its table`)
    if (result.small > 0) problems.push(`${name}: ${result.small} published counts under ${threshold}`)
    if (result.unprotected > 0)
      problems.push(
        `${name}: ${result.unprotected} suppressed cells can be narrowed from the margins to a point or to 1–${threshold - 1}`,
      )
  }
  return {
    name: 'disclosure',
    ok: problems.length === 0,
    detail:
      problems.length === 0
        ? `no published count is between 1 and ${threshold - 1}${rounding ? ` (rounded to ${rounding})` : `; each of the ${suppressed} suppressed cells ranges over more than a point, reaching 0 or ${threshold}, given the margins`}`
        : problems.join('; '),
  }
}

async function parquetCheck(dir: string, manifest: Manifest): Promise<PackageCheck> {
  const { parquetReadObjects } = await import('hyparquet')
  const differ: string[] = []
  let compared = 0
  for (const file of manifest.files) {
    if (!file.path.endsWith('.parquet')) continue
    const csvPath = join(dir, file.path.replace(/\.parquet$/, '.csv'))
    if (!existsSync(csvPath)) continue
    const bytes = readFileSync(join(dir, file.path))
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
    const objects = (await parquetReadObjects({ file: buffer })) as Array<Record<string, unknown>>
    const [header, ...rows] = readCsv(csvPath)
    compared++
    const same =
      header !== undefined &&
      objects.length === rows.length &&
      rows.every((row, r) =>
        header.every((h, c) => {
          const value = (objects[r] as Record<string, unknown>)[h]
          const cell = row[c] as string
          if (value === null || value === undefined) return cell === '' || cell === '*'
          return typeof value === 'number' ? Number(cell) === value : String(value) === cell
        }),
      )
    if (!same) differ.push(file.path)
  }
  return {
    name: 'parquet',
    ok: differ.length === 0,
    detail:
      differ.length === 0
        ? `${compared} Parquet files hold what their CSV files hold`
        : `differs from its CSV: ${differ.join(', ')}`,
  }
}
