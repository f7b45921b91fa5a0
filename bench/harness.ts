/**
 * What the engine benchmarks share: the real engine (API in-process on a loopback
 * port, an in-process worker, a Temporal dev server, a PostgreSQL database, local
 * file storage) with its text and image provider pointed at the local
 * OpenAI-protocol server of the tests, whose response times are fixed per run.
 * Built on the test helpers, so a benchmark runs exactly what the tests run.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { createProviders } from '../wiring/providers';
import { createEngineWorker } from '../workers/worker';
import Redis from 'ioredis';
import { signSessionToken } from '../lib/tokens';
import { createTestStack, startApi, startWorker, type TestStack } from '../test/helpers/stack';
import { spawnEngineProcess } from '../test/helpers/process';
import { mochaGlobalTeardown } from '../test/helpers/global';
import { freePort } from '../test/helpers/postgres';
import { providerEnv, startOpenAICompatServer, type Latency, type OpenAICompatServer } from '../test/helpers/provider-servers';

export const USER = 'bench-user';

export interface BenchStack {
  stack: TestStack;
  provider: OpenAICompatServer;
  url: string;
  token: string;
  /** POST /v1/ebooks; resolves to the 202 body and the moment the request left. */
  createBook(chapterCount: number, prompt?: string): Promise<{ id: string; workflowId: string; postedAt: number }>;
  close(): Promise<void>;
}

export interface BenchOptions {
  latency?: Latency;
  env?: Record<string, string>;
  /** The worker's activity slots (default 16, as in production). */
  activitySlots?: number;
  /**
   * The worker as its own process (`npm run worker`), as in production, instead
   * of in the API's process: the API then has its CPU and its database pool to itself.
   */
  workerProcess?: boolean;
  /**
   * The API as its own process too (`npm run api`), as in production: the
   * benchmark's own clients and the provider server then do not share its event
   * loop. Both processes get REDIS_URL (events, rate limits and caches on Redis,
   * as in the compose stack). Implies `workerProcess`.
   */
  apiProcess?: boolean;
}

export async function startBenchStack(opts: BenchOptions = {}): Promise<BenchStack> {
  const provider = await startOpenAICompatServer(opts.latency ?? {});
  try {
    return await start(provider, opts);
  } catch (err) {
    // Whatever the helpers started (the Temporal dev server first) must not outlive a failed start.
    await provider.close();
    await mochaGlobalTeardown();
    throw err;
  }
}

async function start(provider: OpenAICompatServer, opts: BenchOptions): Promise<BenchStack> {
  const stack = await createTestStack({
    ...providerEnv({ openai: provider }),
    TEXT_PROVIDERS: 'openai',
    IMAGE_PROVIDERS: 'openai',
    PROVIDER_TIMEOUT_MS: '600000',
    // The limiter is not what is measured.
    RATE_LIMIT_USER_PER_MINUTE: '1000000',
    RATE_LIMIT_IP_PER_MINUTE: '1000000',
    ...opts.env,
  });
  const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL;
  const redis = redisUrl ? new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 }) : undefined;
  if (opts.apiProcess && !redisUrl) throw new Error('apiProcess needs TEST_REDIS_URL (or BENCH_REDIS_URL)');
  const processEnv = {
    ...providerEnv({ openai: provider }),
    TEXT_PROVIDERS: 'openai',
    IMAGE_PROVIDERS: 'openai',
    PROVIDER_TIMEOUT_MS: '600000',
    ...(opts.apiProcess ? { REDIS_URL: redisUrl! } : {}),
    ...opts.env,
  };
  const worker =
    opts.workerProcess || opts.apiProcess
      ? await startWorkerProcess(stack, {
          ...processEnv,
          ...(opts.activitySlots ? { WORKER_ACTIVITY_SLOTS: String(opts.activitySlots) } : {}),
        })
      : opts.activitySlots
        ? await startWideWorker(stack, opts.activitySlots)
        : await startWorker(stack);
  const api = opts.apiProcess
    ? await startApiProcess(stack, {
        ...processEnv,
        RATE_LIMIT_USER_PER_MINUTE: '1000000',
        RATE_LIMIT_IP_PER_MINUTE: '1000000',
      })
    : await startApi(stack, { redis });
  await stack.services.repos.profiles.ensure({ clerkUserId: USER });
  await stack.services.repos.profiles.setSubscription(USER, 'midnights');
  const token = await signSessionToken(stack.devKeys, { userId: USER, ttlSeconds: 6 * 3600 });
  let n = 0;
  return {
    stack,
    provider,
    url: api.url,
    token,
    async createBook(chapterCount, prompt) {
      const postedAt = performance.now();
      const res = await fetch(`${api.url}/v1/ebooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: prompt ?? `A lighthouse keeper and a clockwork gull, voyage ${++n}`, chapterCount }),
      });
      const body = (await res.json()) as { id: string; workflowId: string };
      if (res.status !== 202) throw new Error(`POST /v1/ebooks answered ${res.status}: ${JSON.stringify(body)}`);
      return { ...body, postedAt };
    },
    async close() {
      await api.stop();
      await worker.stop();
      redis?.disconnect();
      await stack.close();
      await provider.close();
      await mochaGlobalTeardown(); // the Temporal dev server (and an embedded PostgreSQL) the helpers started
    },
  };
}

/** A worker like the tests' (both queues) with more activity slots. */
async function startWideWorker(stack: TestStack, slots: number) {
  const connection = await NativeConnection.connect({ address: stack.env.address });
  const workers = await Promise.all(
    [stack.taskQueue, stack.config.temporal.priorityTaskQueue].map((taskQueue) =>
      createEngineWorker({
        connection,
        namespace: stack.config.temporal.namespace,
        taskQueue,
        deps: { ...stack.services, ...createProviders(stack.config) },
        bundleCacheDir: path.join(os.tmpdir(), 'ebook-engine-test-bundles'),
        maxConcurrentActivityTaskExecutions: slots,
        shutdownGraceTime: '2 seconds',
      }),
    ),
  );
  const running = Promise.all(workers.map((w) => w.run()));
  return {
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await connection.close();
    },
  };
}

/** One of the engine's entry points as a child process on the stack's services, its output in a file. */
function spawnEntryPoint(stack: TestStack, name: string, script: 'api/main.ts' | 'workers/main.ts', env: Record<string, string>) {
  const logFile = path.join(os.tmpdir(), `ebook-bench-${name}-${process.pid}.log`);
  console.log(`${name} process output: ${logFile}`);
  // e.g. BENCH_API_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the API process.
  const nodeArgs = (process.env[`BENCH_${name.toUpperCase()}_NODE_ARGS`] ?? '').split(' ').filter(Boolean);
  const proc = spawnEngineProcess(stack, script, { LOG_LEVEL: 'warn', ...env }, { nodeArgs, logFile });
  return { waitUntil: proc.waitUntil, stop: () => proc.stop(10_000) };
}

/** `workers/main.ts` as a child process; resolves once it polls. */
async function startWorkerProcess(stack: TestStack, env: Record<string, string>) {
  const proc = spawnEntryPoint(stack, 'worker', 'workers/main.ts', env);
  await proc.waitUntil(async () => {
    const res = await stack.client.workflowService
      .describeTaskQueue({ namespace: 'default', taskQueue: { name: stack.taskQueue }, taskQueueType: 2 })
      .catch(() => undefined);
    return Boolean(res?.pollers?.length);
  });
  return proc;
}

/** `api/main.ts` as a child process on a free port; resolves once /readyz says ready. */
async function startApiProcess(stack: TestStack, env: Record<string, string>) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnEntryPoint(stack, 'api', 'api/main.ts', { ...env, PORT: String(port) });
  await proc.waitUntil(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200);
  return { url, stop: proc.stop };
}

/** A workflow's activities by type: [scheduled, started, completed] event times (ms). */
export async function activityTimes(stack: TestStack, workflowId: string) {
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  const byId = new Map<string, { type: string; scheduled: number; started?: number; completed?: number }>();
  const ms = (t: any) => Number(t.seconds) * 1000 + Math.round((t.nanos ?? 0) / 1e6);
  for (const e of history.events ?? []) {
    const at = ms(e.eventTime!);
    if (e.activityTaskScheduledEventAttributes) {
      byId.set(String(e.eventId), { type: e.activityTaskScheduledEventAttributes.activityType!.name!, scheduled: at });
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st) byId.get(String(st.scheduledEventId))!.started = at;
    const c = e.activityTaskCompletedEventAttributes;
    if (c) byId.get(String(c.scheduledEventId))!.completed = at;
  }
  return [...byId.values()];
}

/** Milliseconds from POST to the first SSE event of `type` on /v1/ebooks/{id}/events. */
export function firstEvent(url: string, token: string, id: string, type: string, timeoutMs = 120_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/v1/ebooks/${id}/events`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        if (new RegExp(`^event: ${type.replace('.', '\\.')}$`, 'm').test(buf)) {
          const at = performance.now();
          req.destroy();
          clearTimeout(timer);
          resolve(at);
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no ${type} event within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
  });
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * CPU seconds used so far by every process on the machine, summed by process
 * name (node, temporal, postgres, redis-server, ...): the difference of two
 * snapshots says where a benchmark phase's CPU went.
 */
export function cpuByProcess(): Map<string, number> {
  const hz = 100; // USER_HZ on Linux
  const out = new Map<string, number>();
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / hz);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** `after - before` per process name, largest first, only those over 0.1 s. */
export function cpuSpent(before: Map<string, number>, after: Map<string, number>): Array<[string, number]> {
  return [...after]
    .map(([name, s]): [string, number] => [name, s - (before.get(name) ?? 0)])
    .filter(([, s]) => s > 0.1)
    .sort((a, b) => b[1] - a[1]);
}

/** The machine, its load and the date, for the results. */
export function machine(): string {
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  let uptime = '';
  try {
    uptime = execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    uptime = `load average ${load}`;
  }
  return `${new Date().toISOString()}  ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()})  ${uptime}`;
}

/**
 * Runs a benchmark's body with the machine's load printed before and after; exits
 * 0, or 1 with the error.
 */
export function runMain(body: () => Promise<void>): void {
  const main = async () => {
    console.log(`machine at start: ${machine()}`);
    try {
      await body();
    } finally {
      console.log(`machine at end: ${machine()}`);
    }
  };
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/** Runs one engine benchmark (see runMain) on a stack started for it and always closed. */
export function runBench(opts: BenchOptions, body: (bench: BenchStack) => Promise<void>): void {
  runMain(async () => {
    const bench = await startBenchStack(opts);
    try {
      await body(bench);
    } finally {
      await bench.close();
    }
  });
}
