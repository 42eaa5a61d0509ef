import { randomInt } from 'node:crypto'
import argon2 from 'argon2'

// OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane) raised to 64 MiB / 3 passes: one login costs
// tens of milliseconds on this hardware, an offline guess as much.
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 65_536, timeCost: 3, parallelism: 1 } as const

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS)
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password)
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
