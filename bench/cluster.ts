/**
 * Benchmark: books per minute with 1, 2 and 3 engine workers, on the production-shaped
 * cluster of `npm run cluster` and on the dev server of `npm start`, offline providers;
 * and the CPU each book costs per part (engine, Temporal, PostgreSQL, haproxy), counted
 * from /proc for our own processes only (the machine is shared, so machine-wide
 * counters would include other people's work).
 *
 *   npx tsx bench/cluster.ts                 # BENCH_BOOKS=12 per round, BENCH_CHAPTERS=3
 *   BENCH_MODES=cluster npx tsx bench/cluster.ts
 *   BENCH_MODES=dev BENCH_DEV_DB=memory npx tsx bench/cluster.ts   # dev server without its SQLite file
 *
 * Each round posts BENCH_BOOKS books at once through one API process and times the first
 * POST to the last completed row. Workers are added between rounds (1 → 2 → 3) on the
 * same servers; a warm-up book runs before the first round.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startCluster, clusterPorts } from '../scripts/cluster';
import { startDevServer } from '../wiring/temporal';
import { startEmbeddedPostgres } from '../db/embedded';
import { createDb } from '../db/knex';
import { migrate } from '../db/migrate';
import { ensureDevKeys } from '../lib/dev-keys';
import { signSessionToken } from '../lib/tokens';

const ROOT = path.resolve(__dirname, '..');
const BOOKS = Number(process.env.BENCH_BOOKS ?? 12);
const CHAPTERS = Number(process.env.BENCH_CHAPTERS ?? 3);
const MODES = (process.env.BENCH_MODES ?? 'cluster,dev').split(',');
const HZ = 100; // USER_HZ
const USER = 'bench-cluster';

/** CPU seconds of a process, and of its reaped children (PostgreSQL backends that exited). */
function cpuOf(pid: number): { self: number; reaped: number } {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { self: (Number(f[11]) + Number(f[12])) / HZ, reaped: (Number(f[13]) + Number(f[14])) / HZ };
  } catch {
    return { self: 0, reaped: 0 };
  }
}

/** Live children of a process (PostgreSQL's backends and helpers). */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

type Parts = Record<string, () => number[]>;
/** CPU seconds per part: its processes, plus the reaped children of PostgreSQL's postmaster. */
function sample(parts: Parts, postmaster: () => number | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [part, pids] of Object.entries(parts)) out[part] = pids().reduce((s, p) => s + cpuOf(p).self, 0);
  const pm = postmaster();
  if (pm) {
    const c = cpuOf(pm);
    out.postgres = c.self + c.reaped + childrenOf(pm).reduce((s, p) => s + cpuOf(p).self, 0);
  }
  return out;
}

async function freeBase(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let base = 30000; base <= 31600; base += 100) {
    const p = clusterPorts(base);
    const all = [p.apiBalancer, ...p.apis, ...p.workerMetrics, p.postgres, p.balancer, p.balancerStats,
      ...[...p.frontend, ...p.history, ...p.matching, ...p.worker].flatMap((x) => [x.grpc, x.membership, x.http, x.metrics])];
    if ((await Promise.all(all.map(free))).every(Boolean)) return base;
  }
  throw new Error('no free port block');
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Target {
  apiUrl: string;
  databaseUrl: string;
  dataDir: string;
  parts: Parts;
  postmaster: () => number | undefined;
  addWorker(): void;
  stop(): Promise<void>;
}

const ENGINE_ENV = {
  LOG_LEVEL: 'warn',
  RATE_LIMIT_USER_PER_MINUTE: '100000',
  RATE_LIMIT_IP_PER_MINUTE: '100000',
  TEMPORAL_TASK_QUEUE: 'ebooks-bench-cluster',
};

async function clusterTarget(dir: string): Promise<Target> {
  const c = await startCluster({
    dir,
    portBase: await freeBase(),
    workers: 1,
    apis: 1,
    databaseUrl: undefined,
    engine: true,
    supervise: false,
    engineEnv: ENGINE_ENV,
    log: (l) => console.log(`  [cluster] ${l}`),
  });
  const alive = (ps: Array<{ pid?: number; alive(): boolean }>) => ps.filter((p) => p.alive()).map((p) => p.pid!);
  return {
    apiUrl: `http://127.0.0.1:${c.ports.apis[0]}`,
    databaseUrl: c.databaseUrl,
    dataDir: c.engineEnv.DATA_DIR!,
    parts: {
      engine: () => alive([...c.engineWorkers, ...c.apis]),
      temporal: () => alive(c.temporal),
      haproxy: () => alive([c.balancer]),
    },
    postmaster: () => c.postgresPid(),
    addWorker: () => void c.addWorker(),
    stop: () => c.stop(),
  };
}

/** `npm start`'s shape: the dev server (SQLite), the embedded PostgreSQL, engine processes. */
async function devTarget(dir: string): Promise<Target> {
  const [tPort, pgPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  // As `npm start` runs it: SQLite in a file. BENCH_DEV_DB=memory keeps it in memory instead,
  // to tell the file's writes apart from the rest of the dev server's cost.
  const dbFile = process.env.BENCH_DEV_DB === 'memory' ? undefined : path.join(dir, 'temporal', 'temporal.sqlite');
  const temporal = await startDevServer({ port: tPort, dbFile, namespace: 'default' });
  const pg = await startEmbeddedPostgres({ dataDir: dir, port: pgPort });
  const knex = createDb(pg.url);
  await migrate(knex);
  await knex.destroy();
  const env = { ...process.env, ...ENGINE_ENV, DATA_DIR: path.join(dir, 'engine'), DATABASE_URL: pg.url, TEMPORAL_ADDRESS: temporal.address };
  const children: ChildProcess[] = [];
  const run = (script: string, extra: Record<string, string> = {}) => {
    const fd = fs.openSync(path.join(dir, `${path.basename(script, '.ts')}-${children.length}.log`), 'a');
    children.push(spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...env, ...extra }, stdio: ['ignore', fd, fd] }));
  };
  run('api/main.ts', { PORT: String(apiPort) });
  run('workers/main.ts');
  for (let i = 0; i < 600; i++) {
    if (await fetch(`http://127.0.0.1:${apiPort}/readyz`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    apiUrl: `http://127.0.0.1:${apiPort}`,
    databaseUrl: pg.url,
    dataDir: env.DATA_DIR,
    parts: {
      engine: () => children.filter((c) => c.exitCode === null).map((c) => c.pid!),
      temporal: () => [temporal.process.pid!],
    },
    postmaster: () => {
      const f = path.join(dir, 'postgres', 'postmaster.pid');
      return fs.existsSync(f) ? Number(fs.readFileSync(f, 'utf8').split('\n')[0]) : undefined;
    },
    addWorker: () => run('workers/main.ts'),
    async stop() {
      await Promise.all(
        children.map((c) => new Promise<void>((r) => (c.exitCode !== null ? r() : (c.once('exit', () => r()), c.kill('SIGTERM'))))),
      );
      await temporal.stop();
      await pg.stop();
    },
  };
}

async function runRounds(mode: string, t: Target) {
  const knex = createDb(t.databaseUrl);
  await knex('profiles').insert({ clerk_user_id: USER, subscription_tier: 'midnights' }).onConflict('clerk_user_id').merge(['subscription_tier']);
  const token = await signSessionToken(ensureDevKeys(t.dataDir), { userId: USER, ttlSeconds: 3600 * 3 });
  const post = async () => {
    const res = await fetch(`${t.apiUrl}/v1/ebooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'A lamplighter and a tidy comet', chapterCount: CHAPTERS }),
    });
    if (res.status !== 202) throw new Error(`POST /v1/ebooks: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  };
  const waitAll = async (ids: string[]) => {
    for (;;) {
      const rows: Array<{ status: string }> = await knex('memory_books').whereIn('id', ids).select('status');
      if (rows.some((r) => r.status === 'failed' || r.status === 'cancelled')) throw new Error('a book failed');
      if (rows.length === ids.length && rows.every((r) => r.status === 'completed')) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  // Warm-up: bundle, pools and code paths loaded before anything is timed.
  await waitAll([await post()]);
  const results: string[] = [];
  for (let workers = 1; workers <= 3; workers++) {
    if (workers > 1) {
      t.addWorker();
      await new Promise((r) => setTimeout(r, 15_000)); // the new worker bundles its workflows and polls
    }
    const cpu0 = sample(t.parts, t.postmaster);
    const t0 = performance.now();
    const ids = await Promise.all(Array.from({ length: BOOKS }, post));
    await waitAll(ids);
    const s = (performance.now() - t0) / 1000;
    const cpu1 = sample(t.parts, t.postmaster);
    const perBook = Object.keys(cpu1)
      .map((k) => `${k} ${((cpu1[k] - (cpu0[k] ?? 0)) / BOOKS).toFixed(2)}`)
      .join(', ');
    const total = Object.keys(cpu1).reduce((a, k) => a + cpu1[k] - (cpu0[k] ?? 0), 0);
    const line = `${mode.padEnd(7)} workers=${workers}  ${BOOKS} books in ${s.toFixed(1)} s = ${((BOOKS / s) * 60).toFixed(1)} books/min  CPU s/book: ${perBook} (total ${(total / BOOKS).toFixed(2)})  load ${os.loadavg()[0].toFixed(1)}`;
    console.log(line);
    results.push(line);
  }
  await knex.destroy();
  return results;
}

async function main() {
  console.log(`start ${new Date().toISOString()}  ${os.cpus().length} CPUs  load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`${BOOKS} books of ${CHAPTERS} chapters per round, offline providers (no delay)`);
  const all: string[] = [];
  for (const mode of MODES) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${mode}-`));
    fs.chmodSync(dir, 0o755);
    const t = mode === 'cluster' ? await clusterTarget(dir) : await devTarget(dir);
    try {
      all.push(...(await runRounds(mode, t)));
    } finally {
      await t.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`end ${new Date().toISOString()}  load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(all.join('\n'));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
