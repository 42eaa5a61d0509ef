import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { pack } from 'tar-stream'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDialect } from '../../../test/support/database.js'
import { firstHospital, listFiles, useSyntheticData } from '../../../test/support/files.js'
import { startTestServer } from '../../../test/support/server.js'
import {
  addInstitution,
  type Receipt,
  revokeInstitutionKey,
  rotateInstitutionKey,
  verifyReceipt,
} from '../../intake/index.js'
import type { Runtime } from '../../runtime/index.js'

const API = '/api/gateway/v1'
const MAX_FILE_BYTES = 64 * 1024

/** A tar archive of the given entries (files, and one symbolic link when `link` is named). */
async function tarOf(entries: Array<{ name: string; bytes: Buffer }>, link?: string): Promise<Buffer> {
  const archive = pack()
  const chunks: Buffer[] = []
  archive.on('data', (chunk) => chunks.push(chunk as Buffer))
  const done = new Promise<void>((resolve) => archive.on('end', () => resolve()))
  for (const entry of entries) archive.entry({ name: entry.name }, entry.bytes)
  if (link) archive.entry({ name: link, type: 'symlink', linkname: '/etc/passwd' })
  archive.finalize()
  await done
  return Buffer.concat(chunks)
}

const generate = useSyntheticData()

describeEachDialect('gateway API', (t) => {
  let app: FastifyInstance
  let runtime: Runtime
  let logs: () => string
  let files: Array<{ path: string; bytes: Buffer }>
  let canaries: string[]
  let own: { code: string; apiKey: string }
  let other: { code: string; apiKey: string }
  const auth = (apiKey: string) => ({ authorization: `Bearer ${apiKey}` })

  beforeAll(async () => {
    const { dir } = await generate({ persons: 4, hospitals: 1, seed: 'gateway', formats: ['ssmix2'] })
    const hospital = firstHospital(dir)
    const base = join(dir, hospital, 'ssmix2')
    files = listFiles(base).map((path) => ({ path, bytes: readFileSync(join(base, path)) }))
    canaries = [
      ...readFileSync(join(dir, 'truth', 'canaries.txt'), 'utf8')
        .split('\n')
        .filter((c) => c.length >= 3 && !/^[\d/年月日-]+$/.test(c)),
      // The hospital's patient IDs, as they appear in the storage paths.
      ...new Set(files.map((f) => f.path.split('/')[2] as string)),
    ]
    const server = await startTestServer(t, { env: { TOKUMEI_MAX_FILE_BYTES: String(MAX_FILE_BYTES) } })
    app = server.app
    runtime = server.runtime
    logs = server.logs
    const a = await addInstitution(t.db.kysely, { code: hospital, name: '甲病院', noticeStart: '2020-01-01' })
    const b = await addInstitution(t.db.kysely, {
      code: '9900000001',
      name: '乙病院',
      noticeStart: '2020-01-01',
    })
    own = { code: hospital, apiKey: a.key.apiKey }
    other = { code: '9900000001', apiKey: b.key.apiKey }
  })

  afterAll(async () => {
    await app?.close()
  })

  const open = async (apiKey = own.apiKey) => {
    const res = await app.inject({
      method: 'POST',
      url: `${API}/submissions`,
      headers: auth(apiKey),
      payload: {},
    })
    expect(res.statusCode).toBe(201)
    return res.json().id as number
  }
  const put = (id: number, path: string, bytes: Buffer, apiKey = own.apiKey) =>
    app.inject({
      method: 'PUT',
      url: `${API}/submissions/${id}/files?path=${encodeURIComponent(path)}`,
      headers: { ...auth(apiKey), 'content-type': 'application/octet-stream' },
      payload: bytes,
    })

  it('answers every route with one identical 401 without a valid, active key', async () => {
    const id = await open()
    const forged = `${own.apiKey.slice(0, -4)}AAAA`
    const requests = [
      { method: 'POST' as const, url: `${API}/submissions`, payload: {} },
      { method: 'GET' as const, url: `${API}/submissions/${id}` },
      { method: 'POST' as const, url: `${API}/submissions/${id}/seal` },
      { method: 'GET' as const, url: `${API}/holdings` },
    ]
    const bodies = new Set<string>()
    for (const request of requests) {
      for (const headers of [
        {},
        { authorization: 'Basic dXNlcjpwYXNz' },
        auth('tkm_nothing'),
        auth(forged),
        // The right secret under another key id.
        auth(own.apiKey.replace(/^tkm_[0-9a-f]{12}_/, 'tkm_000000000000_')),
      ]) {
        const res = await app.inject({ ...request, headers })
        expect(res.statusCode).toBe(401)
        const { request_id: _request, ...error } = res.json().error
        bodies.add(JSON.stringify(error))
      }
    }
    // The same answer whatever was wrong: a caller learns nothing about which keys exist.
    expect(bodies.size).toBe(1)
    const denied = await t.db.kysely
      .selectFrom('audit.event')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('action', '=', 'gateway.auth')
      .where('outcome', '=', 'denied')
      .executeTakeFirstOrThrow()
    expect(Number(denied.n)).toBe(requests.length * 5)
  })

  it('stops a revoked key at once, and a rotated one keeps working', async () => {
    const { key } = await rotateInstitutionKey(t.db.kysely, own.code, { revokeOthers: false })
    expect(
      (await app.inject({ method: 'GET', url: `${API}/holdings`, headers: auth(key.apiKey) })).statusCode,
    ).toBe(200)
    await revokeInstitutionKey(t.db.kysely, key.keyId)
    expect(
      (await app.inject({ method: 'GET', url: `${API}/holdings`, headers: auth(key.apiKey) })).statusCode,
    ).toBe(401)
    expect(
      (await app.inject({ method: 'GET', url: `${API}/holdings`, headers: auth(own.apiKey) })).statusCode,
    ).toBe(200)
  })

  it('receives files one by one, resumes, seals with a signed receipt, and refuses files after the seal', async () => {
    const id = await open()
    const [first, second, ...rest] = files as [(typeof files)[0], (typeof files)[0], ...typeof files]
    expect((await put(id, first.path, first.bytes)).json()).toMatchObject({ status: 'spooled' })
    // gzip on the wire is stored as the file it holds.
    expect((await put(id, `${second.path}.gz`, gzipSync(second.bytes))).json()).toMatchObject({
      status: 'spooled',
    })
    // A client resuming an upload asks what arrived, and sends a file again when its digest differs.
    const digest = await app.inject({
      method: 'GET',
      url: `${API}/submissions/${id}/files?path=${encodeURIComponent(second.path)}`,
      headers: auth(own.apiKey),
    })
    expect(digest.json()).toEqual({ sha256: createHash('sha256').update(second.bytes).digest('hex') })
    const missing = await app.inject({
      method: 'GET',
      url: `${API}/submissions/${id}/files?path=${encodeURIComponent(rest[0]?.path ?? 'x')}`,
      headers: auth(own.apiKey),
    })
    expect(missing.statusCode).toBe(404)
    expect((await put(id, first.path, first.bytes)).json()).toMatchObject({ status: 'replaced' })
    for (const file of rest) expect((await put(id, file.path, file.bytes)).statusCode).toBe(200)
    const escaping = await put(id, '../../etc/passwd', Buffer.from('root:x:0:0'))
    expect(escaping.statusCode).toBe(200)
    expect(escaping.json()).toMatchObject({ status: 'quarantined', reason: expect.stringContaining('..') })

    const sealed = await app.inject({
      method: 'POST',
      url: `${API}/submissions/${id}/seal`,
      headers: auth(own.apiKey),
    })
    expect(sealed.statusCode).toBe(200)
    const receipt = sealed.json() as Receipt
    expect(receipt).toMatchObject({ status: 'received', files: files.length, quarantinedAtReceipt: 1 })
    expect(verifyReceipt(runtime.keyring, receipt)).toBe(true)
    expect(verifyReceipt(runtime.keyring, { ...receipt, files: receipt.files + 1 })).toBe(false)

    const status = await app.inject({
      method: 'GET',
      url: `${API}/submissions/${id}`,
      headers: auth(own.apiKey),
    })
    expect(status.json()).toMatchObject({ id, status: 'received', receipt: { sha256: receipt.sha256 } })
    expect(status.json().quarantine).toHaveLength(1)
    expect(status.json().quarantine[0]).toMatchObject({ code: 'intake.bad_path' })

    const late = await put(id, first.path, first.bytes)
    expect(late.statusCode).toBe(409)
    expect(late.json().error.code).toBe('submission.sealed')
  })

  it("shows an institution nothing of another's submissions: 404, as if it did not exist", async () => {
    const id = await open()
    const asOther = [
      app.inject({ method: 'GET', url: `${API}/submissions/${id}`, headers: auth(other.apiKey) }),
      put(id, (files[0] as { path: string }).path, (files[0] as { bytes: Buffer }).bytes, other.apiKey),
      app.inject({
        method: 'GET',
        url: `${API}/submissions/${id}/files?path=${encodeURIComponent((files[0] as { path: string }).path)}`,
        headers: auth(other.apiKey),
      }),
      app.inject({ method: 'POST', url: `${API}/submissions/${id}/seal`, headers: auth(other.apiKey) }),
    ]
    const nowhere = await app.inject({
      method: 'GET',
      url: `${API}/submissions/987654321`,
      headers: auth(other.apiKey),
    })
    for (const res of await Promise.all(asOther)) {
      expect(res.statusCode).toBe(404)
      expect(res.json().error.code).toBe(nowhere.json().error.code)
    }
    const row = await t.db.kysely
      .selectFrom('intake.submission')
      .select(['status', 'files'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow()
    expect(row).toEqual({ status: 'receiving', files: 0 })
  })

  it('streams a tar archive: good files spooled; an escaping path, a link and a bomb quarantined', async () => {
    const id = await open()
    const bomb = gzipSync(Buffer.alloc(MAX_FILE_BYTES * 4, 0x41))
    const archive = await tarOf(
      [
        ...files.map((f) => ({ name: `storage/${f.path}`, bytes: f.bytes })),
        { name: '../outside/evil.hl7', bytes: Buffer.from('MSH|^~\\&|') },
        { name: `storage/${(files[0] as { path: string }).path}x.gz`, bytes: bomb },
      ],
      'storage/link',
    )
    const res = await app.inject({
      method: 'PUT',
      url: `${API}/submissions/${id}/archive`,
      headers: { ...auth(own.apiKey), 'content-type': 'application/x-tar' },
      payload: gzipSync(archive),
    })
    expect(res.statusCode).toBe(200)
    expect(res.json().spooled).toBe(files.length)
    const reasons = (res.json().quarantined as Array<{ reason: string }>).map((q) => q.reason).join('\n')
    expect(res.json().quarantined).toHaveLength(3)
    expect(reasons).toMatch(/\.\./)
    expect(reasons).toMatch(/link/i)
    expect(reasons).toMatch(/inflat|compress/i)
    const sealed = await app.inject({
      method: 'POST',
      url: `${API}/submissions/${id}/seal`,
      headers: auth(own.apiKey),
    })
    // The same files as the earlier submission: recognised, and not ingested twice.
    expect(sealed.json()).toMatchObject({ files: files.length, quarantinedAtReceipt: 3, status: 'duplicate' })
  })

  it('answers holdings for the calling institution only', async () => {
    const res = await app.inject({ method: 'GET', url: `${API}/holdings`, headers: auth(other.apiKey) })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ institution: other.code })
  })

  it('never lets a name, a patient ID or a key reach a response or a log line', async () => {
    expect(logs()).toContain(`${API}/submissions`)
    for (const canary of [...canaries, own.apiKey, other.apiKey]) {
      expect(logs()).not.toContain(canary)
      expect(logs()).not.toContain(encodeURIComponent(canary))
    }
  })
})
