import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_TYPES } from '../workflows/shared';
import { temporalAddress, type Config } from '../lib/config';
import { temporalConnectionOptions } from '../lib/temporal-connection';

const ROOT = path.resolve(__dirname, '..');

/**
 * The Temporal CLI to run the dev server with: `TEMPORAL_BIN`, else `temporal`
 * on PATH, else the one `scripts/install-temporal.sh` put in `.tools/bin`.
 */
export function resolveTemporalBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TEMPORAL_BIN) return env.TEMPORAL_BIN;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'temporal'))) return path.join(dir, 'temporal');
  }
  const local = path.join(ROOT, '.tools', 'bin', 'temporal');
  if (existsSync(local)) return local;
  throw new Error(
    'No Temporal CLI found: run `npm run temporal:install` (or put `temporal` on PATH, or set TEMPORAL_ADDRESS)',
  );
}

/** The dev server's arguments, shared by `npm start` and the test harness. */
export function devServerArgs(opts: {
  port: number;
  uiPort?: number;
  dbFile?: string;
  namespace: string;
}): string[] {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--namespace',
    opts.namespace,
    '--log-level',
    'warn',
    // A workflow task that schedules activities gets them back in its completion's
    // answer when this worker has free slots, instead of through another poll.
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
  ];
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort), '--ui-disable-news-fetch');
  else args.push('--headless');
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_TYPES)) {
    args.push('--search-attribute', `${name}=${type}`);
  }
  return args;
}

export interface DevServer {
  address: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `temporal server start-dev` and waits until its frontend accepts connections. */
export async function startDevServer(opts: {
  port: number;
  uiPort?: number;
  dbFile?: string;
  namespace: string;
  /** Where the server's output goes: inherit, ignore, or an open file descriptor. */
  stdio?: 'inherit' | 'ignore' | number;
}): Promise<DevServer> {
  if (opts.dbFile) await fs.mkdir(path.dirname(opts.dbFile), { recursive: true });
  const bin = resolveTemporalBinary();
  const child = spawn(bin, devServerArgs(opts), { stdio: ['ignore', opts.stdio ?? 'ignore', opts.stdio ?? 'ignore'] });
  const address = `127.0.0.1:${opts.port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await Promise.race([
    waitForPort('127.0.0.1', opts.port, 60_000),
    exited.then((code) => {
      throw new Error(`temporal server exited with code ${code} before it was ready`);
    }),
  ]);
  return {
    address,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ host, port }, () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * True while the newest run of `workflowId` is running. Asked of Temporal directly
 * (describe, not the eventually consistent visibility list), so a run started a moment
 * ago, or a reset, counts; an id Temporal does not know is not running.
 */
export async function isWorkflowRunning(temporal: Client, workflowId: string): Promise<boolean> {
  try {
    return (await temporal.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

export async function connectClient(config: Config): Promise<Client> {
  const connection = await Connection.connect({ ...temporalConnectionOptions(), address: temporalAddress(config) });
  return new Client({ connection, namespace: config.temporal.namespace });
}

/**
 * Registers the engine's search attributes on a server that lacks them (an
 * existing cluster; the embedded server gets them on its command line).
 */
export async function ensureSearchAttributes(
  connection: { operatorService: Connection['operatorService'] },
  namespace: string,
): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.entries(SEARCH_ATTRIBUTE_TYPES).filter(([name]) => !(name in (customAttributes ?? {})));
  if (missing.length === 0) return;
  // IndexedValueType: KEYWORD = 2.
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map(([name]) => [name, 2])),
  });
}
