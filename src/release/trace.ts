import { createHash } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import type { Schema } from '../db/index.js'
import { markOf } from './build.js'

/**
 * `tokumei trace FILE`: which release a file, or a fragment of one, came from. A whole file is found
 * by its SHA-256 in the releases' manifests; a fragment (some rows copied, a table pasted into a
 * report, a Parquet file rewritten, a DICOM object) by the release pseudonyms it holds — they are
 * unique to one release, and the agency keeps a digest of each.
 */
type Db = Kysely<Schema>

export interface TraceMatch {
  readonly release: string
  readonly project: string
  readonly contract: string
  readonly recipients: readonly string[]
  readonly evidence: string
  /** Pseudonyms of the file found in this release. */
  readonly pseudonyms: number
  readonly wholeFile: boolean
}

export interface TraceResult {
  readonly sha256: string
  readonly pseudonymsSeen: number
  readonly matches: readonly TraceMatch[]
}

const PSEUDONYM = /(?<![a-z2-7])[a-z2-7]{16}(?![a-z2-7])/g

/** The candidate pseudonyms of a file: from a Parquet file's strings, or from its bytes as text. */
async function tokensOf(bytes: Uint8Array): Promise<Set<string>> {
  const tokens = new Set<string>()
  const add = (text: string) => {
    for (const m of text.matchAll(PSEUDONYM)) tokens.add(m[0])
  }
  const magic = Buffer.from(bytes.subarray(0, 4)).toString('latin1')
  if (magic === 'PAR1' && bytes.length > 12) {
    try {
      const { parquetReadObjects } = await import('hyparquet')
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
      for (const row of (await parquetReadObjects({ file: buffer })) as Array<Record<string, unknown>>)
        for (const value of Object.values(row)) if (typeof value === 'string') add(value)
    } catch {
      // A damaged Parquet file is read as bytes below.
    }
  }
  add(Buffer.from(bytes).toString('latin1'))
  return tokens
}

export async function traceFile(db: Db, bytes: Uint8Array): Promise<TraceResult> {
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  const whole = await sql<{ id: string }>`
    select id from governance.release
     where manifest is not null and manifest->'files' @> ${JSON.stringify([{ sha256 }])}::jsonb`.execute(db)
  const tokens = [...(await tokensOf(bytes))]
  const counts = new Map<string, number>()
  for (let i = 0; i < tokens.length; i += 10_000) {
    const marks = tokens.slice(i, i + 10_000).map(markOf)
    const { rows } = await sql<{ release_id: string; n: number }>`
      select release_id, count(*)::int as n from governance.release_mark
       where mark = any(${marks}::bytea[]) group by release_id`.execute(db)
    for (const r of rows) counts.set(r.release_id, (counts.get(r.release_id) ?? 0) + r.n)
  }
  const ids = [...new Set([...whole.rows.map((r) => r.id), ...counts.keys()])]
  if (ids.length === 0) return { sha256, pseudonymsSeen: tokens.length, matches: [] }
  const releases = await db
    .selectFrom('governance.release as r')
    .innerJoin('governance.project as p', 'p.id', 'r.project_id')
    .innerJoin('governance.contract as c', 'c.id', 'r.contract_id')
    .select(['r.id', 'p.code as project', 'c.code as contract', 'c.recipients'])
    .where('r.id', 'in', ids)
    .execute()
  const wholeIds = new Set(whole.rows.map((r) => r.id))
  const matches = releases
    .map((r) => {
      const pseudonyms = counts.get(r.id) ?? 0
      const wholeFile = wholeIds.has(r.id)
      return {
        release: r.id,
        project: r.project,
        contract: r.contract,
        recipients: r.recipients.map((x) => `${x.name} (${x.organisation})`),
        evidence: wholeFile
          ? 'the file is one of the release’s files, unchanged (SHA-256)'
          : `${pseudonyms} of the ${tokens.length} pseudonym-like values are this release’s persons`,
        pseudonyms,
        wholeFile,
      }
    })
    .sort((a, b) => Number(b.wholeFile) - Number(a.wholeFile) || b.pseudonyms - a.pseudonyms)
  return { sha256, pseudonymsSeen: tokens.length, matches }
}
