import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

const WORKFLOWS_DIR = path.resolve(__dirname, '..', 'workflows');

/**
 * The workflow bundle, built once per change of the workflow sources and kept
 * under `cacheDir`: a restarted worker (after a crash, or a scale-out) starts
 * polling in a second instead of re-running webpack.
 */
export async function loadWorkflowBundle(cacheDir: string): Promise<{ code: string }> {
  const hash = createHash('sha256');
  hash.update(require('@temporalio/worker/package.json').version);
  for (const file of await sourceFiles()) {
    hash.update(file);
    hash.update(await fs.readFile(file));
  }
  const cached = path.join(cacheDir, `workflow-bundle-${hash.digest('hex').slice(0, 16)}.js`);
  try {
    return { code: await fs.readFile(cached, 'utf8') };
  } catch {
    // Not built yet for these sources.
  }
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(WORKFLOWS_DIR, 'index.ts'),
    logger: new DefaultLogger('WARN'),
  });
  await fs.mkdir(cacheDir, { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  await fs.writeFile(tmp, code);
  await fs.rename(tmp, cached);
  return { code };
}

/** Workflow sources plus what they import from the rest of the tree (types only are erased). */
async function sourceFiles(): Promise<string[]> {
  const files = (await fs.readdir(WORKFLOWS_DIR)).filter((f) => f.endsWith('.ts')).sort();
  // The outline review's validator runs core/outline-review.ts (and its limits) inside the bundle.
  const core = ['outline-review.ts', 'limits.ts'].map((f) => path.resolve(__dirname, '..', 'core', f));
  return [
    ...files.map((f) => path.join(WORKFLOWS_DIR, f)),
    path.resolve(__dirname, '..', 'activities', 'providers', 'types.ts'),
    ...core,
  ];
}
