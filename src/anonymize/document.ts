import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import type { z } from 'zod'
import { TokumeiError } from '../model/index.js'

/**
 * An operator's document (YAML, or JSON, which is YAML) checked against its schema: one error that
 * names the source and, for a wrong value, the path to it. Used for rules files, policies' companions,
 * release specs, applications and contracts.
 */
export function checkDocument<T>(schema: z.ZodType<T>, data: unknown, source: string, code: string): T {
  const parsed = schema.safeParse(data)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0] as z.core.$ZodIssue
  throw new TokumeiError(`${source}, at ${issue.path.join('.') || 'the top'}: ${issue.message}.`, {
    code,
    kind: 'invalid',
  })
}

export function readYamlDocument<T>(path: string, schema: z.ZodType<T>, code: string): T {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    throw new TokumeiError(`${path} cannot be read.`, { code, kind: 'invalid' })
  }
  let data: unknown
  try {
    data = parseYaml(text)
  } catch (error) {
    throw new TokumeiError(`${path}: not YAML or JSON (${(error as Error).message.split('\n')[0]}).`, {
      code,
      kind: 'invalid',
    })
  }
  return checkDocument(schema, data, path, code)
}
