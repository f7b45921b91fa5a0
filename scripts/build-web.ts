/**
 * `npm run build:web`: builds the single-page app into web/dist, which the API
 * serves at `/`. Runs Vite's CLI as a child so its ESM-only loader never meets
 * tsx's CommonJS one.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

export function buildWeb(opts: { quiet?: boolean } = {}): void {
  // The bin file is not in vite's package exports: locate it from package.json.
  const vite = path.join(path.dirname(require.resolve('vite/package.json', { paths: [ROOT] })), 'bin', 'vite.js');
  const r = spawnSync(process.execPath, [vite, 'build', '--config', path.join(ROOT, 'web', 'vite.config.ts'), ...(opts.quiet ? ['--logLevel', 'warn'] : [])], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error(`vite build failed (exit ${r.status ?? r.signal})`);
}

if (require.main === module) {
  try {
    buildWeb();
  } catch (err) {
    process.stderr.write(`[build:web] ${(err as Error).message}\n`);
    process.exit(1);
  }
}
