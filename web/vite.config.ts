import { fileURLToPath } from 'node:url'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The console is built into dist/web, which the portal zone serves at `/` (src/server/routes/console.ts).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // The agency's terminals run a current browser; no legacy build.
    target: 'es2022',
    sourcemap: true,
    // One bundle (React, i18next, the YAML reader): about 480 kB, served on the agency's own network.
    chunkSizeWarningLimit: 1000,
  },
  logLevel: 'warn',
})
