import { defineConfig } from 'vite'

// The dashboard imports the workspace packages' TypeScript sources directly.
export default defineConfig({
  root: import.meta.dirname,
  build: { outDir: 'dist', target: 'es2023', emptyOutDir: true, chunkSizeWarningLimit: 4096 },
  server: { host: '127.0.0.1' }
})
