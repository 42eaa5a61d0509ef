import { z } from 'zod'
import { readYamlDocument } from '../document.js'
import type { BurnedInRule } from './pixels.js'
import type { PrivateAllowed } from './private.js'

/**
 * The operator's files for DICOM de-identification — where burned-in text is, which private
 * attributes to keep — read and checked here, apart from the de-identifier, so that the workers
 * that de-identify never load a schema library.
 */
const readRulesFile = readYamlDocument

const region = z
  .object({
    x: z.number().int().min(0),
    y: z.number().int().min(0),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
  })
  .strict()

const rule = z
  .object({
    name: z.string().min(1).optional(),
    match: z
      .object({
        modality: z.string().min(1).optional(),
        manufacturer: z.string().min(1).optional(),
        model: z.string().min(1).optional(),
        sopClass: z.string().min(1).optional(),
        rows: z.number().int().positive().optional(),
        columns: z.number().int().positive().optional(),
      })
      .strict()
      .refine((m) => Object.keys(m).length > 0, {
        message:
          'a rule must match on at least one of modality, manufacturer, model, sopClass, rows, columns',
      }),
    regions: z.array(region).min(1),
  })
  .strict()

const rules = z.object({ rules: z.array(rule).min(1) }).strict()

/** Reads a rules file (YAML or JSON): `{ rules: [{ name?, match: {...}, regions: [{x, y, width, height}] }] }`. */
export function readBurnedInRules(path: string): BurnedInRule[] {
  return readRulesFile(path, rules, 'dicom.regions_invalid').rules
}

const entry = z
  .object({
    creator: z.string().min(1),
    tag: z
      .string()
      .regex(
        /^\(?[0-9a-fA-F]{4},xx[0-9a-fA-F]{2}\)?$/,
        'a tag is written gggg,xxee (an odd group, xx for the block)',
      )
      .refine((t) => Number.parseInt(t.replace('(', '').slice(0, 4), 16) % 2 === 1, {
        message: 'a private tag has an odd group',
      }),
    name: z.string().optional(),
  })
  .strict()

const file = z.object({ keep: z.array(entry).min(1) }).strict()

/** Reads an allow-list (YAML or JSON): `{ keep: [{ creator: "GEMS_ACQU_01", tag: "0019,xx0C", name? }] }`. */
export function readPrivateAllowList(path: string): PrivateAllowed[] {
  return readRulesFile(path, file, 'dicom.private_invalid').keep.map((e) => {
    const t = e.tag.replace(/[()]/g, '')
    return {
      creator: e.creator.trim(),
      group: Number.parseInt(t.slice(0, 4), 16),
      offset: Number.parseInt(t.slice(7, 9), 16),
    }
  })
}
