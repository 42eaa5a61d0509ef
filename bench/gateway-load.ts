import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { loadConfig } from '../src/config/index.js'
import { migrateToLatest, type TokumeiDatabase } from '../src/db/index.js'
import { addInstitution } from '../src/intake/index.js'
import { openRuntime } from '../src/runtime/index.js'
import { ensureDataKeys, masterKeyId } from '../src/security/index.js'
import { buildServer } from '../src/server/index.js'
import { withBenchServer } from './server.js'

/**
 * A bounded load test of the gateway on loopback: many connections upload files at once into a few
 * open submissions, then each submission is sealed and its receipt must count every file the
 * gateway acknowledged — no upload lost. The reference is `/healthz` on the same server in the same
 * run. PostgreSQL (a throwaway cluster), as the gateway runs in production.
 */
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '4000' },
    connections: { type: 'string', default: '16' },
    submissions: { type: 'string', default: '4' },
  },
})
const REQUESTS = Number(values.requests)
const CONNECTIONS = Number(values.connections)
const SUBMISSIONS = Number(values.submissions)

// One SS-MIX2-sized message (the gateway spools bytes; it does not parse them).
const BODY = Buffer.from(
  `MSH|^~\\&|HIS|1310000001|||20240101120000||ADT^A08|1|P|2.5${'|'.repeat(20)}\r${'X'.repeat(560)}\r`,
)

function storagePath(n: number): string {
  const id = String(n).padStart(10, '0')
  return `ssmix2/${id.slice(0, 3)}/${id.slice(3, 6)}/${id}/20240101/ADT-00/${id}_20240101_ADT-00_999999999999999_20240101120000000_-_1`
}

async function run(db: TokumeiDatabase): Promise<void> {
  await migrateToLatest(db)
  const key = randomBytes(32)
  await ensureDataKeys(db, { key, id: masterKeyId(key), source: 'env', file: undefined })
  const config = loadConfig({
    env: { TOKUMEI_MASTER_KEY: key.toString('base64') },
    cwd: mkdtempSync(join(tmpdir(), 'tk-bench-gw-')),
  })
  const runtime = await openRuntime(config, { db, actor: 'bench', zone: 'gateway' })
  const app = await buildServer(runtime, { zone: 'gateway' })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  try {
    const { key: apiKey } = await addInstitution(db.kysely, {
      code: '1310000001',
      name: '負荷試験病院',
      noticeStart: '2020-01-01',
    })
    const headers = { authorization: `Bearer ${apiKey.apiKey}` }
    const ids: number[] = []
    for (let i = 0; i < SUBMISSIONS; i++) {
      const res = await fetch(`${address}/api/gateway/v1/submissions`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: '{}',
      })
      ids.push(((await res.json()) as { id: number }).id)
    }

    const reference = await autocannon({
      url: `${address}/healthz`,
      connections: CONNECTIONS,
      amount: REQUESTS * 5,
    })
    let next = 0
    const load = await autocannon({
      url: address,
      connections: CONNECTIONS,
      amount: REQUESTS,
      requests: [
        {
          method: 'PUT',
          headers: { ...headers, 'content-type': 'application/octet-stream' },
          body: BODY,
          setupRequest: (request) => {
            const n = next++
            const id = ids[n % ids.length]
            return {
              ...request,
              path: `/api/gateway/v1/submissions/${id}/files?path=${encodeURIComponent(storagePath(n))}`,
            }
          },
        },
      ],
    })

    let received = 0
    for (const id of ids) {
      const res = await fetch(`${address}/api/gateway/v1/submissions/${id}/seal`, { method: 'POST', headers })
      const receipt = (await res.json()) as { files?: number }
      if (typeof receipt.files !== 'number') throw new Error(`seal failed: ${JSON.stringify(receipt)}`)
      received += receipt.files
    }
    const acknowledged = load['2xx']
    // Requests over the run's duration (autocannon's average is of whole-second samples).
    const rate = (r: autocannon.Result) => (r['2xx'] + r.non2xx) / r.duration
    const report = (name: string, r: autocannon.Result) =>
      console.log(
        `${name.padEnd(30)} ${rate(r).toFixed(0).padStart(7)} req/s   p50 ${String(r.latency.p50).padStart(4)} ms   p99 ${String(r.latency.p99).padStart(5)} ms   errors ${r.errors}   non-2xx ${r.non2xx}`,
      )
    console.log(
      `gateway load: ${REQUESTS} uploads of ${BODY.length} bytes, ${CONNECTIONS} connections, ${SUBMISSIONS} submissions, PostgreSQL\n`,
    )
    report('GET /healthz (reference)', reference)
    report('PUT …/files', load)
    console.log(`ratio to reference ${(rate(load) / rate(reference)).toFixed(2)}`)
    console.log(
      `acknowledged ${acknowledged}, counted by the receipts ${received}, lost ${acknowledged - received}`,
    )
    if (acknowledged !== received || load.errors > 0 || load.non2xx > 0) process.exitCode = 1
  } finally {
    // The database is closed by withBenchServer.
    await app.close()
  }
}

await withBenchServer(run)
