import { type Kysely, sql } from 'kysely'
import { documentContext } from '../clinical/index.js'
import type { Schema } from '../db/index.js'
import type { Keyring } from '../security/index.js'

/**
 * The text of clinical documents, decrypted for scrubbing inside the build and never written as it
 * is. Documents that are not text (PDF, images) are not released: the map has no entry for them.
 */
export async function readDocuments(
  db: Kysely<Schema>,
  keyring: Keyring,
  docKeys: readonly string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (let i = 0; i < docKeys.length; i += 5_000) {
    const { rows } = await sql<{ doc_key: string; content_type: string; content_enc: Uint8Array }>`
      select doc_key::text, content_type, content_enc from clinical.document
       where doc_key = any(${docKeys.slice(i, i + 5_000)}::uuid[])`.execute(db)
    for (const row of rows) {
      if (!/^text\//.test(row.content_type)) continue
      out.set(row.doc_key, keyring.decryptText('documents', row.content_enc, documentContext(row.doc_key)))
    }
  }
  return out
}
