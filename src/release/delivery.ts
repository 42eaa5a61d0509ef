import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join, normalize, sep } from 'node:path'
import { Readable } from 'node:stream'
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import tar from 'tar-stream'
import type { Schema } from '../db/index.js'
import { TokumeiError } from '../model/index.js'
import { type Keyring, recordAuditEvent } from '../security/index.js'
import { listFiles } from './package.js'

/**
 * Delivery (提供): the package as one tar file encrypted to the recipient's X25519 public key
 * (ephemeral ECDH, HKDF-SHA-256, AES-256-GCM; the header is authenticated), behind a link that
 * works until it expires or has been used its number of times. The link's secret is kept only as its
 * SHA-256; every download, and every refused one, is a row and an audit event.
 */
type Db = Kysely<Schema>

const MAGIC = 'TOKUMEI-PACKAGE/1\n'
const ALGORITHM = 'X25519-HKDF-SHA256-A256GCM'

export interface RecipientKeys {
  readonly publicKeyPem: string
  readonly privateKeyPem: string
  readonly keyId: string
}

/** A recipient's key id: the first 16 hex digits of SHA-256 of the raw public key. */
export function recipientKeyId(publicKeyPem: string): string {
  let key: KeyObject
  try {
    key = createPublicKey(publicKeyPem)
  } catch {
    throw new TokumeiError("A recipient's public key is not a PEM public key.", {
      code: 'delivery.bad_key',
      kind: 'invalid',
    })
  }
  if (key.asymmetricKeyType !== 'x25519')
    throw new TokumeiError("A recipient's public key must be an X25519 key (`tokumei release keygen`).", {
      code: 'delivery.bad_key',
      kind: 'invalid',
    })
  const raw = key.export({ format: 'der', type: 'spki' }).subarray(-32)
  return createHash('sha256').update(raw).digest('hex').slice(0, 16)
}

export function generateRecipientKeys(): RecipientKeys {
  const { publicKey, privateKey } = generateKeyPairSync('x25519')
  const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString()
  return {
    publicKeyPem,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    keyId: recipientKeyId(publicKeyPem),
  }
}

const contentKey = (secret: Buffer, salt: Buffer) =>
  Buffer.from(hkdfSync('sha256', secret, salt, 'tokumei package', 32))

/** The directory as a tar archive (paths relative to it, sorted). */
export async function tarDirectory(dir: string): Promise<Buffer> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  pack.on('data', (c) => chunks.push(c as Buffer))
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve())
    pack.on('error', reject)
  })
  for (const file of [...listFiles(dir).map((f) => f.path), 'manifest.json']) {
    const bytes = readFileSync(join(dir, file))
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: file, size: bytes.length, mode: 0o644, mtime: new Date(0) }, bytes, (error) =>
        error ? reject(error) : resolve(),
      ),
    )
  }
  pack.finalize()
  await done
  return Buffer.concat(chunks)
}

export function encryptPackage(archive: Uint8Array, publicKeyPem: string, release: string): Buffer {
  const recipient = createPublicKey(publicKeyPem)
  const ephemeral = generateKeyPairSync('x25519')
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const key = contentKey(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient }), salt)
  const header = JSON.stringify({
    algorithm: ALGORITHM,
    release,
    keyId: recipientKeyId(publicKeyPem),
    ephemeral: ephemeral.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
  })
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(header))
  const body = Buffer.concat([cipher.update(archive), cipher.final(), cipher.getAuthTag()])
  return Buffer.concat([Buffer.from(MAGIC), Buffer.from(`${header}\n`), body])
}

const badPackage = (why: string) =>
  new TokumeiError(`Not a readable tokumei package: ${why}.`, {
    code: 'delivery.bad_package',
    kind: 'invalid',
  })

export function decryptPackage(
  bytes: Uint8Array,
  privateKeyPem: string,
): { release: string; archive: Buffer } {
  const buffer = Buffer.from(bytes)
  if (!buffer.subarray(0, MAGIC.length).equals(Buffer.from(MAGIC)))
    throw badPackage('it does not start with TOKUMEI-PACKAGE/1')
  const end = buffer.indexOf(0x0a, MAGIC.length)
  if (end < 0) throw badPackage('its header is cut off')
  const headerText = buffer.subarray(MAGIC.length, end).toString('utf8')
  let header: {
    algorithm: string
    release: string
    keyId: string
    ephemeral: string
    salt: string
    iv: string
  }
  try {
    header = JSON.parse(headerText)
  } catch {
    throw badPackage('its header is not JSON')
  }
  if (header.algorithm !== ALGORITHM) throw badPackage(`it is encrypted with ${header.algorithm}`)
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(privateKeyPem)
  } catch {
    throw new TokumeiError('The private key is not a PEM private key.', {
      code: 'delivery.bad_key',
      kind: 'invalid',
    })
  }
  const ours = recipientKeyId(createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString())
  if (ours !== header.keyId)
    throw new TokumeiError(`The package is encrypted to key ${header.keyId}, not to this key (${ours}).`, {
      code: 'delivery.wrong_key',
      kind: 'invalid',
    })
  const ephemeral = createPublicKey({
    key: Buffer.from(header.ephemeral, 'base64'),
    format: 'der',
    type: 'spki',
  })
  const key = contentKey(
    diffieHellman({ privateKey, publicKey: ephemeral }),
    Buffer.from(header.salt, 'base64'),
  )
  const body = buffer.subarray(end + 1)
  if (body.length < 16) throw badPackage('it is cut off')
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(header.iv, 'base64'))
  decipher.setAAD(Buffer.from(headerText))
  decipher.setAuthTag(body.subarray(body.length - 16))
  try {
    return {
      release: header.release,
      archive: Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]),
    }
  } catch {
    throw badPackage('it was changed after encryption, or cut off')
  }
}

/** Unpacks a tar archive under `dir`, refusing any path that would leave it. */
export async function untar(archive: Buffer, dir: string): Promise<number> {
  const extract = tar.extract()
  let files = 0
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const name = normalize(header.name)
      if (name.startsWith('..') || name.startsWith(sep) || header.type !== 'file') {
        stream.resume()
        reject(badPackage(`it holds an entry outside the package (${header.name})`))
        return
      }
      const chunks: Buffer[] = []
      stream.on('data', (c) => chunks.push(c as Buffer))
      stream.on('end', () => {
        const path = join(dir, name)
        mkdirSync(dirname(path), { recursive: true })
        writeFileSync(path, Buffer.concat(chunks))
        files++
        next()
      })
    })
    extract.on('finish', () => resolve())
    extract.on('error', reject)
  })
  Readable.from([archive]).pipe(extract)
  await done
  return files
}

export interface DeliveryContext {
  readonly db: Db
  readonly keyring: Keyring
  readonly actor: string
  /** Where encrypted packages wait for their download. */
  readonly deliveriesDir: string
  /** The clock (tests move it; production leaves it unset). */
  readonly now?: () => Date
}

export interface DeliveryView {
  readonly id: number
  readonly release: string
  readonly recipient: string
  readonly keyId: string
  readonly bytes: number
  readonly sha256: string
  readonly expiresAt: string
  readonly maxDownloads: number
  readonly downloads: number
  /** The link's secret: shown once, when the delivery is made. */
  readonly token?: string
}

export async function createDelivery(
  context: DeliveryContext,
  input: { release: string; recipient: string; hours?: number; downloads?: number },
): Promise<DeliveryView> {
  const release = await context.db
    .selectFrom('governance.release as r')
    .innerJoin('governance.contract as c', 'c.id', 'r.contract_id')
    .select(['r.id', 'r.state', 'r.dir', 'c.recipients', 'c.state as contract_state', 'c.code as contract'])
    .where('r.id', '=', input.release)
    .executeTakeFirst()
  if (!release)
    throw new TokumeiError(`There is no release ${input.release}.`, {
      code: 'release.not_found',
      kind: 'not_found',
    })
  if (release.state !== 'built' || !release.dir)
    throw new TokumeiError(
      `Release ${input.release} is ${release.state}: only a built release is delivered.`,
      {
        code: 'delivery.not_built',
        kind: 'conflict',
      },
    )
  if (release.contract_state !== 'active')
    throw new TokumeiError(
      `Contract ${release.contract} is ${release.contract_state}: nothing is delivered under it.`,
      {
        code: 'delivery.no_contract',
        kind: 'conflict',
      },
    )
  const recipient = release.recipients.find((r) => r.name === input.recipient)
  if (!recipient)
    throw new TokumeiError(`${input.recipient} is not a recipient named in contract ${release.contract}.`, {
      code: 'delivery.not_recipient',
      kind: 'forbidden',
    })
  if (!recipient.publicKey)
    throw new TokumeiError(
      `Contract ${release.contract} holds no public key of ${input.recipient}: packages are only sent encrypted.`,
      {
        code: 'delivery.no_key',
        kind: 'conflict',
      },
    )
  const sealed = encryptPackage(await tarDirectory(release.dir), recipient.publicKey, release.id)
  const token = randomBytes(24).toString('base64url')
  const objectKey = `${release.id}-${randomBytes(6).toString('hex')}.tkp`
  mkdirSync(context.deliveriesDir, { recursive: true, mode: 0o700 })
  const path = join(context.deliveriesDir, objectKey)
  writeFileSync(`${path}.tmp`, sealed, { mode: 0o600 })
  renameSync(`${path}.tmp`, path)
  const expires = new Date((context.now?.() ?? new Date()).getTime() + (input.hours ?? 72) * 3_600_000)
  const row = await context.db
    .insertInto('governance.delivery')
    .values({
      release_id: release.id,
      recipient: input.recipient,
      key_id: recipientKeyId(recipient.publicKey),
      object_key: objectKey,
      bytes: sealed.length,
      sha256: createHash('sha256').update(sealed).digest('hex'),
      token_sha256: createHash('sha256').update(token).digest(),
      expires_at: expires,
      max_downloads: input.downloads ?? 3,
      created_by: context.actor,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  await recordAuditEvent(context.db, context.keyring, {
    actor: context.actor,
    action: 'delivery.created',
    target: `release:${release.id}`,
    detail: {
      delivery: row.id,
      recipient_key: row.key_id,
      expires: expires.toISOString(),
      downloads: row.max_downloads,
    },
  })
  return { ...viewOf(row), token }
}

const viewOf = (row: {
  id: number
  release_id: string
  recipient: string
  key_id: string
  bytes: number
  sha256: string
  expires_at: Date
  max_downloads: number
  downloads: number
}): DeliveryView => ({
  id: row.id,
  release: row.release_id,
  recipient: row.recipient,
  keyId: row.key_id,
  bytes: row.bytes,
  sha256: row.sha256,
  expiresAt: row.expires_at.toISOString(),
  maxDownloads: row.max_downloads,
  downloads: row.downloads,
})

/**
 * One download by its link's secret: the encrypted package, or a refusal (unknown, expired, used up,
 * revoked) — each recorded and audited. The count is taken under a row lock, so two concurrent
 * downloads cannot both take the last one.
 */
export async function takeDownload(
  context: DeliveryContext,
  token: string,
  client: string,
): Promise<{ path: string; delivery: DeliveryView }> {
  const digest = createHash('sha256').update(token).digest()
  const outcome = await context.db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('governance.delivery')
      .selectAll()
      .where('token_sha256', '=', digest)
      .forUpdate()
      .executeTakeFirst()
    if (!row) {
      // A guessed or mistyped link is audited too (the monitor sees a run of them).
      await recordAuditEvent(trx, context.keyring, {
        actor: context.actor,
        action: 'delivery.download',
        target: null,
        outcome: 'denied',
        detail: { client, reason: 'unknown' },
      })
      return { refused: 'unknown' as const }
    }
    const why = row.revoked_at
      ? ('revoked' as const)
      : row.expires_at <= (context.now?.() ?? new Date())
        ? ('expired' as const)
        : row.downloads >= row.max_downloads
          ? ('exhausted' as const)
          : undefined
    await trx
      .insertInto('governance.download')
      .values({ delivery_id: row.id, client, outcome: why ?? 'ok' })
      .execute()
    if (!why)
      await trx
        .updateTable('governance.delivery')
        .set({ downloads: sql`downloads + 1` })
        .where('id', '=', row.id)
        .execute()
    await recordAuditEvent(trx, context.keyring, {
      actor: context.actor,
      action: 'delivery.download',
      target: `release:${row.release_id}`,
      outcome: why ? 'denied' : 'ok',
      detail: { delivery: row.id, client, reason: why ?? null, download: why ? null : row.downloads + 1 },
    })
    return { row: { ...row, downloads: row.downloads + (why ? 0 : 1) }, refused: why }
  })
  if (outcome.refused || !('row' in outcome) || !outcome.row)
    throw new TokumeiError(
      outcome.refused === 'unknown' || !('row' in outcome)
        ? 'This download link is not valid.'
        : `This download link ${outcome.refused === 'expired' ? 'has expired' : outcome.refused === 'exhausted' ? 'has been used as many times as it may be' : 'was revoked'}: ask the agency for a new one.`,
      {
        code: `delivery.${outcome.refused}`,
        kind: outcome.refused === 'unknown' ? 'not_found' : 'forbidden',
      },
    )
  return { path: join(context.deliveriesDir, outcome.row.object_key), delivery: viewOf(outcome.row) }
}

export async function listDeliveries(db: Db, release?: string): Promise<DeliveryView[]> {
  let query = db.selectFrom('governance.delivery').selectAll().orderBy('id')
  if (release) query = query.where('release_id', '=', release)
  return (await query.execute()).map(viewOf)
}
