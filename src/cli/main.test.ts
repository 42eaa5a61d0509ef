import { readdirSync } from 'node:fs'
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { COMMAND_MODULES } from './main.js'

describe('the command line loads only the module of the command asked for', () => {
  it('knows which module registers every top-level command, and no module registers one it does not know', async () => {
    const found: Record<string, string> = {}
    const dir = new URL('./commands/', import.meta.url)
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const module = (await import(new URL(file, dir).href)) as Record<string, unknown>
      for (const [name, register] of Object.entries(module)) {
        if (!name.startsWith('register') || typeof register !== 'function') continue
        const program = new Command('tokumei')
        ;(register as (p: Command, d: unknown) => void)(program, () => () => undefined)
        for (const command of program.commands) found[command.name()] = file.replace(/\.ts$/, '')
      }
    }
    expect(found).toEqual(COMMAND_MODULES)
  })
})
