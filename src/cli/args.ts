import { TokumeiError } from '../model/index.js'

/** A positional id (block, request, patient reference, schedule entry): a positive integer, or one sentence. */
export function idArgument(value: string | undefined, what: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new TokumeiError(`"${value}" is not a ${what} number.`, { code: 'cli.bad_id', kind: 'invalid' })
  return n
}
