import { readFileSync } from 'node:fs'
import { TokumeiError } from '../model/index.js'

/** A release key from a file: 32 bytes written as 64 hexadecimal digits. */
export function readKeyFile(file: string): Uint8Array {
  let text: string
  try {
    text = readFileSync(file, 'utf8').trim()
  } catch {
    throw new TokumeiError(`The key file ${file} cannot be read.`, {
      code: 'anonymize.key_unreadable',
      kind: 'invalid',
      details: { file },
    })
  }
  if (!/^[0-9a-fA-F]{64}$/.test(text))
    throw new TokumeiError(`The key file ${file} must hold 32 bytes as 64 hexadecimal digits.`, {
      code: 'anonymize.bad_key',
      kind: 'invalid',
      details: { file },
    })
  return Buffer.from(text, 'hex')
}
