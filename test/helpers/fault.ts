/**
 * Pieces of the fault-injection test: a seeded PRNG (a failing run can be
 * replayed with the same FAULT_SEED), worker child processes that can be
 * SIGKILLed and replaced, HTTP probes with a hard client timeout, and the
 * per-step view of a workflow's history used to check that no completed step
 * was paid for twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Client } from '@temporalio/client';

const ROOT = path.resolve(__dirname, '..', '..');

/** The offline provider's mulberry32: small, fast and the same on every platform. */
export { mulberry32 as seededRandom } from '../../activities/providers/offline-text';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface WorkerProc {
  child: ChildProcess;
  exited: Promise<void>;
  /** True once we killed it on purpose. */
  killedByTest: boolean;
}

/**
 * Worker processes as `npm run worker` runs them. Output goes to one log file
 * (shown when the test fails) rather than the mocha output.
 */
export class WorkerPool {
  readonly all: WorkerProc[] = [];
  /** Workers that died without the test killing them (a finding, not a fault we injected). */
  readonly unexpectedExits: Array<{ pid: number; code: number | null; signal: string | null }> = [];
  private readonly logFd: number;

  constructor(
    private readonly env: Record<string, string>,
    readonly logFile: string,
  ) {
    this.logFd = fs.openSync(logFile, 'a');
  }

  start(): WorkerProc {
    // The parent's own service addresses must not leak into the child.
    const base = { ...process.env };
    for (const k of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'REDIS_URL', 'S3_BUCKET', 'RUNWARE_API_KEY']) delete base[k];
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: ROOT,
      env: { ...base, ...this.env },
      stdio: ['ignore', this.logFd, this.logFd],
    });
    const proc: WorkerProc = {
      child,
      killedByTest: false,
      exited: new Promise<void>((resolve) =>
        child.once('exit', (code, signal) => {
          if (!proc.killedByTest) this.unexpectedExits.push({ pid: child.pid!, code, signal });
          resolve();
        }),
      ),
    };
    this.all.push(proc);
    return proc;
  }

  get current(): WorkerProc | undefined {
    return this.all.at(-1);
  }

  alive(proc = this.current): boolean {
    return !!proc && proc.child.exitCode === null && proc.child.signalCode === null;
  }

  async kill(proc: WorkerProc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    proc.killedByTest = true;
    if (this.alive(proc)) proc.child.kill(signal);
    await proc.exited;
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all.map((p) => this.kill(p)));
    fs.closeSync(this.logFd);
  }

  tail(lines = 60): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

export interface ProbeResult {
  during: string;
  path: string;
  /** HTTP status, or 'timeout' / 'error: …' when no answer came. */
  status: number | string;
  ms: number;
  contentType: string;
  body: string;
}

/** One GET with a 5 s client timeout: a hang shows up as 'timeout', never as a stuck test. */
export async function probe(base: string, p: string, token: string, during: string, timeoutMs = 5000): Promise<ProbeResult> {
  const started = Date.now();
  try {
    const res = await fetch(base + p, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await res.text();
    return {
      during,
      path: p,
      status: res.status,
      ms: Date.now() - started,
      contentType: res.headers.get('content-type') ?? '',
      body: body.slice(0, 300),
    };
  } catch (err) {
    const name = (err as Error).name;
    return {
      during,
      path: p,
      status: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : `error: ${(err as Error).message}`,
      ms: Date.now() - started,
      contentType: '',
      body: '',
    };
  }
}

const PROVIDER_ACTIVITIES: Record<string, string> = {
  writeOutline: 'outline',
  writeChapter: 'chapter',
  drawIllustration: 'illustration',
  drawCover: 'cover',
};

export interface CompletedStep {
  /** `step:index` in the ledger's terms (e.g. `chapter:2`, `outline:`). */
  key: string;
  /** The attempt that completed (1 when it was never retried). */
  attempt: number;
}

/** The provider steps that completed in a workflow's history, with the attempt that completed them. */
export async function completedProviderSteps(client: Client, workflowId: string): Promise<CompletedStep[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  const attempts = new Map<string, number>();
  const done: CompletedStep[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const step = PROVIDER_ACTIVITIES[s.activityType?.name ?? ''];
      if (step) {
        const input = defaultPayloadConverter.fromPayload<{ index?: number }>(s.input!.payloads![0]);
        scheduled.set(String(e.eventId), `${step}:${input?.index ?? ''}`);
      }
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st) attempts.set(String(st.scheduledEventId), st.attempt ?? 1);
    const c = e.activityTaskCompletedEventAttributes;
    if (c) {
      const key = scheduled.get(String(c.scheduledEventId));
      if (key) done.push({ key, attempt: attempts.get(String(c.scheduledEventId)) ?? 1 });
    }
  }
  return done;
}

/** Pids still alive among these. */
export function stillAlive(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}

export interface RedisTestServer {
  url: string;
  port: number;
  /** `SHUTDOWN NOSAVE` (as an outage: clients see their connections drop and reconnects refused). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** Stops it for good (teardown). */
  close(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free port, no persistence, so stopping it
 * hurts no other test (the shared TEST_REDIS_URL server stays up).
 */
export async function startRedisServer(port: number, logFile: string): Promise<RedisTestServer> {
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    const log = fs.openSync(logFile, 'a');
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    const c = child;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}; see ${logFile}`);
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.end();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
      await sleep(100);
    }
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    // What an operator's `redis-cli shutdown nosave` does.
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('SHUTDOWN NOSAVE\r\n'));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return { url, port, start, stop, close: stop };
}

export interface StreamedEvent {
  id: number;
  type: string;
  data: unknown;
}

export interface EventStreamReader {
  /** The HTTP status of the stream's answer. */
  status: number;
  events: StreamedEvent[];
  /** Resolves with the first event of one of these types (or rejects when the stream ends first). */
  until(types: string[], timeoutMs: number): Promise<StreamedEvent>;
  close(): void;
}

/** Reads a server-sent event stream (`GET …/events`) into `events` as they come. */
export async function readEventStream(url: string, token: string): Promise<EventStreamReader> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: abort.signal });
  const events: StreamedEvent[] = [];
  const waiters = new Set<() => void>();
  let ended: Error | undefined;
  const wake = () => waiters.forEach((w) => w());
  void (async () => {
    let buf = '';
    try {
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
          const id = field('id');
          if (id === undefined) continue;
          events.push({ id: Number(id), type: field('event') ?? 'message', data: JSON.parse(field('data') ?? 'null') });
          wake();
        }
      }
      ended = new Error('the event stream ended');
    } catch (err) {
      ended = err as Error;
    }
    wake();
  })();
  return {
    status: res.status,
    events,
    until(types, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${types.join('/')} event within ${timeoutMs} ms; got ${events.map((e) => e.type).join(', ')}`));
        }, timeoutMs);
        const check = () => {
          const found = events.find((e) => types.includes(e.type));
          if (!found && !ended) return;
          clearTimeout(timer);
          waiters.delete(check);
          if (found) resolve(found);
          else reject(ended);
        };
        waiters.add(check);
        check();
      });
    },
    close: () => abort.abort(),
  };
}
