/**
 * One of the engine's entry points (`api/main.ts`, `workers/main.ts`) as a child
 * process on a test stack's services, the way a deployment runs it, for the tests
 * that need a real process: signals, exit codes, its own metrics port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestStack } from './stack';

const ROOT = path.resolve(__dirname, '..', '..');

export interface EngineProcess {
  child: ChildProcess;
  /** Everything the process wrote so far. */
  output(): string;
  /** Resolves when the process exits, with its code and when. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Polls `ready` every 250 ms for up to 2 minutes; fails (with the output) if the process exits first. */
  waitUntil(ready: () => Promise<boolean>): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  /** Node flags, e.g. `--cpu-prof` (default none). */
  nodeArgs?: string[];
  /** Where its output goes (default a new file in the stack's data directory). */
  logFile?: string;
}

export function spawnEngineProcess(
  stack: TestStack,
  script: 'api/main.ts' | 'workers/main.ts',
  env: Record<string, string>,
  opts: SpawnOptions = {},
): EngineProcess {
  const base: NodeJS.ProcessEnv = { ...process.env };
  // Only what the caller gives: none of the developer's own service or provider settings.
  for (const k of Object.keys(base)) if (/^(TEMPORAL_|DATABASE_URL|S3_|REDIS_URL|GROQ_|OPENAI_|RUNWARE_|PORT$)/.test(k)) delete base[k];
  const logFile = opts.logFile ?? path.join(stack.dataDir, `${path.basename(path.dirname(script))}-${process.hrtime.bigint()}.log`);
  const log = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', script], {
    cwd: ROOT,
    env: {
      ...base,
      DATA_DIR: stack.dataDir,
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: stack.env.address,
      TEMPORAL_TASK_QUEUE: stack.taskQueue,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const output = () => fs.readFileSync(logFile, 'utf8');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    output,
    exited,
    async waitUntil(ready) {
      const deadline = Date.now() + 120_000;
      while (!(await ready().catch(() => false))) {
        if (!running()) throw new Error(`${script} exited (${child.exitCode ?? child.signalCode}):\n${output().slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`${script} was not ready within 2 minutes:\n${output().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async stop(graceMs = 30_000) {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
