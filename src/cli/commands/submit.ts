import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import type { Command } from 'commander'
import type { DeclaredFormat } from '../../db/index.js'
import {
  findInstitution,
  findSubmission,
  type IncomingFile,
  listQuarantine,
  listSubmissions,
  openSubmission,
  type Receipt,
  readReceipt,
  receiveFiles,
  sealSubmission,
  submissionNotFound,
} from '../../intake/index.js'
import { TokumeiError } from '../../model/index.js'
import { createWorker, receiveContext } from '../../runtime/index.js'
import type { Output } from '../io.js'
import type { Define } from '../main.js'

const FORMATS: readonly DeclaredFormat[] = ['auto', 'ssmix2', 'uke', 'fhir', 'dicom']
const BATCH_FILES = 500
const BATCH_BYTES = 32 * 1024 * 1024

function parseFormat(value: unknown): DeclaredFormat {
  const format = String(value ?? 'auto') as DeclaredFormat
  if (!FORMATS.includes(format))
    throw new TokumeiError(`--format must be one of ${FORMATS.join(', ')} (got "${String(value)}").`, {
      code: 'cli.bad_format',
      kind: 'invalid',
    })
  return format
}

/** Every regular file below `root` (or `root` itself), in a stable order; hidden files are skipped. */
export function* walkFiles(root: string): Generator<{ path: string; relativePath: string }> {
  const stat = statSync(root, { throwIfNoEntry: false })
  if (!stat)
    throw new TokumeiError(`${root} does not exist: give the file or folder to submit.`, {
      code: 'cli.no_such_path',
      kind: 'invalid',
    })
  if (stat.isFile()) {
    yield { path: root, relativePath: root.split(sep).at(-1) ?? root }
    return
  }
  const stack = [root]
  while (stack.length > 0) {
    const dir = stack.pop() as string
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? 1 : -1))
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue
      const path = join(dir, entry.name)
      if (entry.isDirectory()) stack.push(path)
    }
    for (const entry of [...entries].reverse()) {
      if (entry.name.startsWith('.') || !entry.isFile()) continue
      const path = join(dir, entry.name)
      yield { path, relativePath: relative(root, path).split(sep).join('/') }
    }
  }
}

function receiptLines(receipt: Receipt): string[] {
  const categories = Object.entries(receipt.categories)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ')
  return [
    `受領記録 — submission ${receipt.submission} from ${receipt.institution}, received ${receipt.receivedAt}: ${receipt.status}${receipt.duplicateOf ? ` (same content as submission ${receipt.duplicateOf})` : ''}.`,
    `  files ${receipt.files} (${receipt.bytes} bytes), already received before ${receipt.duplicateFiles}, quarantined at receipt ${receipt.quarantinedAtReceipt}`,
    `  categories: ${categories || 'none'}`,
    `  SHA-256 ${receipt.sha256}; kept until ${receipt.retainUntil}; signed by key ${receipt.signature.keyId}`,
  ]
}

export function registerSubmitCommands(program: Command, define: Define): void {
  program
    .command('submit <path>')
    .description("submit an institution's files (a folder tree or one file) and get the receipt (受領記録)")
    .requiredOption('--institution <code>', 'the 10-digit 医療機関コード of the submitting institution')
    .option('--format <format>', `auto (by name and content), ${FORMATS.slice(1).join(', ')}`, 'auto')
    .option('--gateway <url>', "send through a gateway's HTTP API instead of into the local store")
    .option('--api-key <key>', 'the institution API key for --gateway (default TOKUMEI_API_KEY)')
    .option('--process', 'process the submission right away in this command (local store only)')
    .action(
      define(async ({ withRuntime, out, io }, options, path) => {
        const root = resolve(io.cwd, path ?? '.')
        const format = parseFormat(options.format)
        if (options.gateway) {
          const apiKey = (options.apiKey as string | undefined) ?? io.env.TOKUMEI_API_KEY
          const receipt = await submitThroughGateway(String(options.gateway), apiKey, root, format, out)
          out.result(receipt, receiptLines(receipt))
          return 0
        }
        return withRuntime(async (runtime) => {
          const institution = await findInstitution(runtime.db.kysely, String(options.institution))
          const context = receiveContext(runtime)
          const id = await openSubmission(context, {
            institutionId: institution.id,
            declaredFormat: format,
            channel: 'cli',
          })
          let batch: IncomingFile[] = []
          let bytes = 0
          let sent = 0
          let quarantined = 0
          const flush = async () => {
            if (batch.length === 0) return
            const outcomes = await receiveFiles(context, id, batch)
            quarantined += outcomes.filter((o) => o.status === 'quarantined').length
            sent += batch.length
            out.progress(
              `submission ${id}: ${sent} file(s) received${quarantined ? `, ${quarantined} quarantined` : ''}`,
            )
            batch = []
            bytes = 0
          }
          for (const file of walkFiles(root)) {
            const content = readFileSync(file.path)
            batch.push({ path: file.relativePath, bytes: content })
            bytes += content.length
            if (batch.length >= BATCH_FILES || bytes >= BATCH_BYTES) await flush()
          }
          await flush()
          const receipt = await sealSubmission(context, id)
          const lines = receiptLines(receipt)
          if (options.process && receipt.status === 'received') {
            // Through the queue, as a worker would: the processing is a job (it reads the identity
            // vault, which only jobs may do), and any other runnable job is done on the way.
            const worker = createWorker(runtime, {
              onJobProgress: (job, done, total, unit) =>
                out.progress(`job ${job.id} (${job.kind}): ${done}/${total} ${unit}`),
              onJobFailed: (job, error) => out.warn(`job ${job.id} (${job.kind}) failed: ${error}`),
            })
            await worker.run({ untilIdle: true })
            const summary = await findSubmission(runtime.db.kysely, id)
            if (summary.status !== 'processed')
              throw new TokumeiError(
                `Submission ${id} was received but not processed (${summary.status}): see \`tokumei jobs status\` and run \`tokumei process --until-idle\`.`,
                { code: 'submission.not_processed', kind: 'internal' },
              )
            const counts = summary.counts
            lines.push(
              `Processed: ${counts.stored ?? 0} record(s) stored (${counts.rows ?? 0} rows), ${counts.held ?? 0} held for the notice period, ${counts.refused ?? 0} refused (opt-out), ${counts.quarantined ?? 0} quarantined, ${counts.superseded ?? 0} superseded.`,
            )
            out.result({ receipt, processed: counts }, lines)
          } else {
            if (receipt.status === 'received')
              lines.push(
                'Queued for the core: run `tokumei process --until-idle` (or keep `tokumei serve` running).',
              )
            out.result(receipt, lines)
          }
          return 0
        })
      }),
    )

  const submission = program.command('submission').description('see submissions and their processing')
  submission
    .command('list')
    .description("each submission's status, counts and quarantined items")
    .option('--institution <code>', 'only this institution')
    .option('--limit <n>', 'at most this many, newest first', '100')
    .action(
      define(async ({ withRuntime, out }, options) => {
        return withRuntime(async (runtime) => {
          const db = runtime.db.kysely
          const institution = options.institution
            ? await findInstitution(db, String(options.institution))
            : undefined
          const list = await listSubmissions(db, {
            institutionId: institution?.id,
            limit: Number(options.limit) || 100,
          })
          out.result(
            list,
            list.length > 0
              ? list.map((s) => {
                  const c = s.counts
                  return `#${s.id} ${s.institution} ${s.status.padEnd(10)} files ${c.files ?? 0}, stored ${c.stored ?? 0}, held ${c.held ?? 0}, refused ${c.refused ?? 0}, quarantined ${c.quarantined ?? 0}, duplicate files ${c.duplicate_files ?? 0}${s.pendingItems ? `, ${s.pendingItems} pending` : ''}`
                })
              : 'No submissions yet.',
          )
          return 0
        })
      }),
    )
  submission
    .command('show <id>')
    .description('one submission with its receipt')
    .action(
      define(async ({ withRuntime, out }, _options, id) => {
        return withRuntime(async (runtime) => {
          const db = runtime.db.kysely
          if (!/^\d+$/.test(id ?? '')) throw submissionNotFound(id ?? '')
          const summary = await findSubmission(db, Number(id))
          const receipt = await readReceipt(db, summary.id)
          out.result({ ...summary, receipt: receipt ?? null }, [
            `#${summary.id} ${summary.institution} ${summary.status} counts ${JSON.stringify(summary.counts)}`,
            ...(receipt ? receiptLines(receipt) : ['(not sealed: no receipt yet)']),
          ])
          return 0
        })
      }),
    )

  program
    .command('quarantine')
    .description('quarantined items: file (masked), position and reason — never their content')
    .command('list')
    .description('list quarantined items')
    .option('--submission <id>', 'only this submission')
    .option('--limit <n>', 'at most this many', '1000')
    .action(
      define(async ({ withRuntime, out }, options) => {
        return withRuntime(async (runtime) => {
          const entries = await listQuarantine(runtime.db.kysely, {
            submission: options.submission ? Number(options.submission) : undefined,
            limit: Number(options.limit) || 1000,
          })
          out.result(
            entries,
            entries.length > 0
              ? entries.map((q) => {
                  const where = Object.entries(q.position)
                    .map(([k, v]) => `${k} ${v}`)
                    .join(', ')
                  return `#${q.submission} ${q.file}${where ? ` (${where})` : ''}: ${q.reason} [${q.code}]`
                })
              : 'Nothing is quarantined.',
          )
          return 0
        })
      }),
    )
}

async function gatewayRequest(
  base: string,
  apiKey: string,
  method: string,
  path: string,
  body?: Uint8Array | string,
  contentType?: string,
): Promise<Response> {
  let lastError: unknown
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const response = await fetch(new URL(path, base), {
        method,
        headers: {
          authorization: `Bearer ${apiKey}`,
          ...(contentType ? { 'content-type': contentType } : {}),
        },
        body,
      })
      if (response.status >= 500 && attempt < 3) continue
      return response
    } catch (error) {
      lastError = error
      await new Promise((r) => setTimeout(r, 200 * attempt))
    }
  }
  throw new TokumeiError(
    `The gateway at ${base} cannot be reached (${(lastError as Error)?.message ?? 'no answer'}).`,
    {
      code: 'cli.gateway_unreachable',
      kind: 'unavailable',
    },
  )
}

async function expectOk(response: Response): Promise<Record<string, unknown>> {
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>
  if (!response.ok) {
    const error = (json.error ?? {}) as { message?: string; code?: string }
    throw new TokumeiError(
      `The gateway refused the request (HTTP ${response.status}): ${error.message ?? 'no reason given'}`,
      {
        code: error.code ?? 'cli.gateway_refused',
        kind: response.status === 401 ? 'unauthenticated' : response.status === 404 ? 'not_found' : 'invalid',
      },
    )
  }
  return json
}

/** Upload through the gateway API: open, one PUT per file (skipping ones already there), seal. */
async function submitThroughGateway(
  base: string,
  apiKey: string | undefined,
  root: string,
  format: DeclaredFormat,
  out: Output,
): Promise<Receipt> {
  if (!apiKey)
    throw new TokumeiError(
      '--gateway needs the institution API key: pass --api-key or set TOKUMEI_API_KEY.',
      {
        code: 'cli.no_api_key',
        kind: 'invalid',
      },
    )
  const opened = await expectOk(
    await gatewayRequest(
      base,
      apiKey,
      'POST',
      '/api/gateway/v1/submissions',
      JSON.stringify({ format }),
      'application/json',
    ),
  )
  const id = Number(opened.id)
  let sent = 0
  for (const file of walkFiles(root)) {
    const bytes = readFileSync(file.path)
    const query = `?path=${encodeURIComponent(file.relativePath)}`
    // Resuming: a file the gateway already holds with the same content is not sent again.
    const head = await gatewayRequest(base, apiKey, 'GET', `/api/gateway/v1/submissions/${id}/files${query}`)
    if (head.ok) {
      const known = (await head.json()) as { sha256?: string }
      if (known.sha256 === createHash('sha256').update(bytes).digest('hex')) continue
    }
    await expectOk(
      await gatewayRequest(
        base,
        apiKey,
        'PUT',
        `/api/gateway/v1/submissions/${id}/files${query}`,
        bytes,
        'application/octet-stream',
      ),
    )
    sent++
    if (sent % 200 === 0) out.progress(`submission ${id}: ${sent} file(s) sent`)
  }
  return (await expectOk(
    await gatewayRequest(base, apiKey, 'POST', `/api/gateway/v1/submissions/${id}/seal`),
  )) as unknown as Receipt
}
