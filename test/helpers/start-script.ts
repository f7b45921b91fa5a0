/**
 * `npm start`'s script (scripts/start.ts) as a child process in a throwaway DATA_DIR on
 * free ports, with only the environment a test gives it (none of the developer's
 * services or keys), for the tests that need the whole embedded stack as a user runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './http';
import { freePort } from './postgres';

const ROOT = path.resolve(__dirname, '..', '..');

export interface StartScript {
  child: ChildProcess;
  dataDir: string;
  /** The API's base URL. */
  url: string;
  /** Everything the script (and so its worker and API) wrote to stdout and stderr so far. */
  output(): string;
  /** Throws (with the output) if the script has exited. */
  assertRunning(): void;
  /** Resolves once the script says it is ready. */
  ready(): Promise<void>;
  /** SIGTERM, then SIGKILL after 40 s; removes the data folder unless `keepData`. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * Starts the script; `prepare` runs on the new data folder first (e.g. to make keys).
 * `detached` puts it in a process group of its own (pgid = its pid), as a shell puts a
 * foreground command, so a test can send a signal to the whole group like Ctrl-C does.
 */
export async function spawnStartScript(
  env: Record<string, string>,
  prepare: (dataDir: string) => Record<string, string> = () => ({}),
  opts: { detached?: boolean } = {},
): Promise<StartScript> {
  fs.mkdirSync(path.join(ROOT, '.test-data'), { recursive: true });
  // Under the repository, readable by the embedded PostgreSQL's own user when we run as root.
  const dataDir = fs.mkdtempSync(path.join(ROOT, '.test-data', 'start-'));
  fs.chmodSync(dataDir, 0o755);
  const [port, temporalPort, uiPort, pgPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(base)) if (/^(TEMPORAL_|DATABASE_URL|S3_|AWS_|REDIS_URL|GROQ_|OPENAI_|RUNWARE_|CLERK_)/.test(k)) delete base[k];
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: {
      ...base,
      DATA_DIR: dataDir,
      PORT: String(port),
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      EMBEDDED_PG_PORT: String(pgPort),
      ...env,
      ...prepare(dataDir),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const assertRunning = () => {
    if (!running()) throw new Error(`the start script exited (${child.exitCode ?? child.signalCode}):\n${out.slice(-3000)}`);
  };
  return {
    child,
    dataDir,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    assertRunning,
    async ready() {
      await waitFor('the engine to be ready', async () => (assertRunning(), out.includes('[engine] ready')), 240_000, 500);
    },
    async stop(opts = {}) {
      if (running()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
        await exited;
        clearTimeout(timer);
      }
      if (!opts.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
