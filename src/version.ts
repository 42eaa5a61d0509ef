import { readFileSync } from 'node:fs'

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string
}

/** The engine version recorded in audit events, release manifests and `/healthz`. */
export const TOKUMEI_VERSION: string = manifest.version
