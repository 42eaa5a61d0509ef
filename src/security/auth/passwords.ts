import { randomInt } from 'node:crypto'
import { hash, verify } from '@node-rs/argon2'

// argon2id above OWASP's baseline (19 MiB, 2 passes): 64 MiB, 3 passes, 1 lane. One login costs
// about a quarter of a second on these machines, and so does every offline guess.
// `algorithm: 2` is Argon2id (the package's const enum cannot be imported under verbatimModuleSyntax).
const ARGON2_OPTIONS = { algorithm: 2, memoryCost: 65_536, timeCost: 3, parallelism: 1 } as const

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS)
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password)
  } catch {
    return false
  }
}

// No 0/O/1/l/I: one-time passwords are read off a screen and typed.
const ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'

/** A one-time password of `length` characters (≈ 5.8 bits each), shown once to its owner. */
export function oneTimePassword(length = 20): string {
  let out = ''
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)]
  return out
}
