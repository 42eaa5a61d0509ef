import { createHash } from 'node:crypto'
import { z } from 'zod'

/**
 * A statistical query (集計依頼): persons counted — or a lab value summed or averaged over them — by
 * up to four dimensions, among the persons the filters keep. YAML; docs/provision.md describes it.
 */
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD')
const codes = z.array(z.string().trim().min(1)).min(1)

export const DIMENSIONS = [
  'age_band',
  'age_band_5',
  'sex',
  'prefecture',
  'region',
  'municipality',
  'year_of_birth_decade',
] as const
export type Dimension = (typeof DIMENSIONS)[number]

/** Who is counted (statistics) or released (a release spec's cohort): see clinical's CohortCriteria. */
export const COHORT_SCHEMA = z.strictObject({
  conditions: codes.optional().describe('ICD-10 codes or prefixes (E11 covers E11.9)'),
  without: codes.optional().describe('ICD-10 codes or prefixes that leave a person out'),
  drugs: codes.optional().describe('HOT9 or レセプト電算 codes, or their prefixes'),
  labs: codes.optional().describe('JLAC10 codes or prefixes'),
  modalities: codes.optional().describe('DICOM modalities (CR, CT, MR …) of an image the person has'),
  from: isoDate.optional(),
  to: isoDate.optional(),
  ages: z
    .strictObject({
      min: z.number().int().min(0).default(0),
      max: z.number().int().max(130).default(130),
    })
    .optional(),
  sex: z
    .array(z.enum(['M', 'F', 'O', 'U']))
    .min(1)
    .optional(),
  institutions: codes.optional().describe('医療機関コード of the institutions whose records count'),
})

export const QUERY_SCHEMA = z.strictObject({
  project: z.string().trim().min(1),
  title: z.string().default(''),
  measure: z
    .union([
      z.literal('count'),
      z.strictObject({
        sum: z.strictObject({
          lab: z
            .string()
            .min(1)
            .describe('JLAC10 code (prefix) whose newest numeric result per person counts'),
        }),
      }),
      z.strictObject({ mean: z.strictObject({ lab: z.string().min(1) }) }),
    ])
    .default('count'),
  dimensions: z
    .array(z.enum(DIMENSIONS))
    .min(1)
    .max(4, 'a table has at most 4 dimensions')
    .refine((d) => new Set(d).size === d.length, 'a dimension is named twice'),
  filters: COHORT_SCHEMA.default({}),
  /** Cells counting 1 … threshold − 1 persons are suppressed (0 is shown). */
  threshold: z.number().int().min(2).max(100).default(10),
  /** Published counts rounded to a multiple of this (after suppression). */
  rounding: z.number().int().min(2).max(100).optional(),
})

export type StatsQuery = z.infer<typeof QUERY_SCHEMA> & { readonly sha256: string }

/**
 * The shape of a query: what it tabulates, without the filters' values. Queries of one shape whose
 * cohorts differ by a few persons could be subtracted from each other to reveal those persons.
 */
export function queryShape(query: Pick<StatsQuery, 'measure' | 'dimensions'>): string {
  return JSON.stringify({ measure: query.measure, dimensions: [...query.dimensions].sort() })
}

export const querySha256 = (value: unknown) =>
  createHash('sha256').update(JSON.stringify(value)).digest('hex')
