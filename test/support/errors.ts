import { TokumeiError } from '../../src/model/index.js'

/** The TokumeiError that `fn` throws; fails the test if it throws something else or nothing. */
export function tokumeiErrorOf(fn: () => unknown): TokumeiError {
  try {
    fn()
  } catch (error) {
    if (error instanceof TokumeiError) return error
    throw error
  }
  throw new Error('expected a TokumeiError, but nothing was thrown')
}
