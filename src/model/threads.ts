import { Worker } from 'node:worker_threads'

/**
 * Starts the worker script `name` that lies beside the module at `from` (its `import.meta.url`): the
 * compiled JavaScript in production; under tsx and the tests, where the module is TypeScript, a small
 * loader that imports the TypeScript worker through tsx.
 */
export function startWorkerBeside(from: string, name: string, workerData: unknown): Worker {
  if (!from.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, from), { workerData })
  const script = new URL(`./${name}.ts`, from).href
  const loader = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(script)}, ${JSON.stringify(from)}))`
  return new Worker(loader, { eval: true, workerData })
}
