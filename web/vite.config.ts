import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));
// The engine's API during `vite dev`; the built app is served by the API itself.
const api = process.env.EBOOK_API_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No public source maps: the API serves dist/ as it is, to anyone.
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    // core/ (eras, limits) lives outside web/: the one source of the era list and the brief's limits.
    fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] },
    proxy: { '/v1': api, '/shared': api, '/signin': api, '/web-config.json': api },
  },
});
