import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { stringify } from 'csv-stringify/sync'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { TokumeiError } from '../model/index.js'

/**
 * The package of a release (DESIGN §7) on disk: tables as CSV (UTF-8) and Parquet, and the manifest
 * that lists every file with its SHA-256 and is signed with Ed25519. The manifest carries the
 * public key, so that `release verify` needs nothing but the directory; the key's id is the one the
 * agency publishes.
 */
export type VariableType = 'string' | 'integer' | 'number' | 'boolean' | 'date'

export interface TableData {
  readonly name: string
  readonly header: readonly string[]
  readonly types: readonly VariableType[]
  readonly rows: ReadonlyArray<readonly string[]>
}

export interface ManifestFile {
  readonly path: string
  readonly sha256: string
  readonly bytes: number
  readonly rows?: number
}

export interface Manifest {
  readonly format: 'tokumei-release/1'
  readonly release: string
  readonly kind: 'dataset' | 'statistics'
  readonly project: string
  readonly contract: string
  readonly recipients: readonly string[]
  readonly created: string
  readonly engine: string
  readonly specSha256: string
  readonly policySha256?: string
  /** What `release verify` recomputes from the files: k over these columns of this table. */
  readonly privacy?: {
    readonly table: string
    readonly quasiIdentifiers: readonly string[]
    readonly k: number
    readonly person: string
  }
  readonly disclosure?: {
    readonly threshold: number
    readonly tables: readonly string[]
    readonly rounding?: number
  }
  readonly files: readonly ManifestFile[]
  readonly signature?: {
    readonly algorithm: 'Ed25519'
    readonly keyId: string
    readonly publicKey: string
    readonly value: string
  }
}

/** JSON with object keys sorted at every depth: the bytes a signature is made over. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object')
    return `{${Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`
  return JSON.stringify(value)
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

export function writeCsv(dir: string, table: TableData): void {
  const text = stringify([table.header as string[], ...(table.rows as string[][])], {
    record_delimiter: '\n',
  })
  writeFileSync(join(dir, `${table.name}.csv`), text)
}

function parquetColumn(name: string, type: VariableType, values: string[]) {
  switch (type) {
    case 'integer':
      return {
        name,
        type: 'INT32' as const,
        data: values.map((v) => (v === '' || v === '*' ? null : Number.parseInt(v, 10))),
      }
    case 'number':
      return {
        name,
        type: 'DOUBLE' as const,
        data: values.map((v) => (v === '' || v === '*' ? null : Number(v))),
      }
    case 'boolean':
      return { name, type: 'BOOLEAN' as const, data: values.map((v) => (v === '' ? null : v === 'true')) }
    default:
      return { name, type: 'STRING' as const, data: values.map((v) => (v === '' ? null : v)) }
  }
}

export function writeParquet(dir: string, table: TableData, metadata: Record<string, string>): void {
  const columnData = table.header.map((name, c) =>
    parquetColumn(
      name,
      table.types[c] ?? 'string',
      table.rows.map((r) => r[c] as string),
    ),
  )
  const buffer = parquetWriteBuffer({
    columnData,
    kvMetadata: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    createdBy: 'tokumei',
  })
  writeFileSync(join(dir, `${table.name}.parquet`), new Uint8Array(buffer))
}

/** Every file under `dir` (but the manifest), with its digest and size, sorted by path. */
export function listFiles(dir: string, rows: ReadonlyMap<string, number> = new Map()): ManifestFile[] {
  const out: ManifestFile[] = []
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name)
      if (entry.isDirectory()) walk(path)
      else {
        const name = relative(dir, path).split(sep).join('/')
        if (name === 'manifest.json') continue
        const bytes = readFileSync(path)
        const count = rows.get(name)
        out.push({
          path: name,
          sha256: sha256(bytes),
          bytes: bytes.length,
          ...(count !== undefined ? { rows: count } : {}),
        })
      }
    }
  }
  walk(dir)
  return out.sort((a, b) => (a.path < b.path ? -1 : 1))
}

export function signManifest(
  manifest: Omit<Manifest, 'signature'>,
  signer: { keyId: string; publicKeyRaw: Uint8Array; sign: (message: Uint8Array) => Uint8Array },
): Manifest {
  const value = Buffer.from(signer.sign(Buffer.from(canonicalJson(manifest)))).toString('base64')
  return {
    ...manifest,
    signature: {
      algorithm: 'Ed25519',
      keyId: signer.keyId,
      publicKey: Buffer.from(signer.publicKeyRaw).toString('base64'),
      value,
    },
  }
}

/** The Ed25519 public key from its 32 raw bytes. */
export function ed25519PublicKey(raw: Uint8Array) {
  return createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(raw)]),
    format: 'der',
    type: 'spki',
  })
}

export const keyIdOf = (raw: Uint8Array) => sha256(raw).slice(0, 16)

export interface PackageCheck {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export function readManifest(dir: string): Manifest {
  let text: string
  try {
    text = readFileSync(join(dir, 'manifest.json'), 'utf8')
  } catch {
    throw new TokumeiError(`${dir} holds no manifest.json: not a release package.`, {
      code: 'release.no_manifest',
      kind: 'invalid',
    })
  }
  try {
    return JSON.parse(text) as Manifest
  } catch {
    throw new TokumeiError(`${join(dir, 'manifest.json')} is not JSON.`, {
      code: 'release.bad_manifest',
      kind: 'invalid',
    })
  }
}

/**
 * The signature and every file's digest: a file changed, added or removed after signing fails, and
 * so does a manifest signed by any key but the one given (or, without one, the one it names).
 */
export function checkPackageFiles(dir: string, manifest: Manifest, trusted?: Uint8Array): PackageCheck[] {
  const checks: PackageCheck[] = []
  const { signature, ...unsigned } = manifest
  if (!signature) checks.push({ name: 'signature', ok: false, detail: 'the manifest is not signed' })
  else {
    const raw = Buffer.from(signature.publicKey, 'base64')
    const ok =
      raw.length === 32 &&
      verifySignature(
        null,
        Buffer.from(canonicalJson(unsigned)),
        ed25519PublicKey(raw),
        Buffer.from(signature.value, 'base64'),
      )
    const pinned = trusted === undefined || Buffer.from(trusted).equals(raw)
    checks.push({
      name: 'signature',
      ok: ok && pinned && keyIdOf(raw) === signature.keyId,
      detail: !ok
        ? 'the Ed25519 signature does not match the manifest'
        : !pinned
          ? `signed by key ${signature.keyId}, not by the key given`
          : `Ed25519, key ${signature.keyId}`,
    })
  }
  const listed = new Map(manifest.files.map((f) => [f.path, f]))
  const present = listFiles(dir)
  const changed = present
    .filter((f) => listed.has(f.path) && listed.get(f.path)?.sha256 !== f.sha256)
    .map((f) => f.path)
  const added = present.filter((f) => !listed.has(f.path)).map((f) => f.path)
  const names = new Set(present.map((f) => f.path))
  const missing = manifest.files.filter((f) => !names.has(f.path)).map((f) => f.path)
  checks.push({
    name: 'files',
    ok: changed.length === 0 && added.length === 0 && missing.length === 0,
    detail:
      changed.length + added.length + missing.length === 0
        ? `${manifest.files.length} files, each with its SHA-256`
        : [
            changed.length ? `changed: ${changed.slice(0, 5).join(', ')}` : '',
            added.length ? `not in the manifest: ${added.slice(0, 5).join(', ')}` : '',
            missing.length ? `missing: ${missing.slice(0, 5).join(', ')}` : '',
          ]
            .filter(Boolean)
            .join('; '),
  })
  return checks
}

export const fileSize = (path: string) => statSync(path).size
