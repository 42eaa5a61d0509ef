#!/usr/bin/env node
// The `tokumei` command. The TypeScript sources are compiled to dist/ by `npm ci` (the `prepare` script).
let cli
try {
  cli = await import('../dist/cli/main.js')
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist')) {
    process.stderr.write(
      'tokumei is not built yet: run `npm ci` (or `npm run build`) in the repository first.\n',
    )
    process.exit(2)
  }
  throw error
}
process.exitCode = await cli.main(process.argv.slice(2))
