/**
 * Fault injection with many books in flight, on services of its own (so the
 * restarts hurt no other test): a Temporal dev server with a database file, an
 * embedded PostgreSQL, the API in-process and workers as child processes whose
 * primary text provider (Groq) always answers 500 so every text step fails over
 * to OpenAI. While the books run: three worker SIGKILLs, one Temporal restart
 * and one PostgreSQL restart, at seeded-random moments. Afterwards every book
 * has completed with valid files and no completed step was paid for twice.
 *
 * FAULT_BOOKS (default 20), FAULT_SEED (default 1), FAULT_TIMEOUT_MS.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../wiring/temporal';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../db/embedded';
import { loadConfig, type Config } from '../../lib/config';
import { createServices, type Services } from '../../wiring/services';
import { createLogger } from '../../lib/logger';
import { ensureDevKeys, clerkSettings } from '../../lib/dev-keys';
import { signSessionToken } from '../../lib/tokens';
import { createApp } from '../../api/app';
import { freePort } from '../helpers/postgres';
import { api, exec } from '../helpers/http';
import { epubcheck, epubcheckSummary } from '../helpers/validators';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import {
  WorkerPool,
  completedProviderSteps,
  probe,
  seededRandom,
  sleep,
  stillAlive,
  type ProbeResult,
} from '../helpers/fault';

const BOOKS = Number(process.env.FAULT_BOOKS ?? 20);
const SEED = Number(process.env.FAULT_SEED ?? 1);
const COMPLETE_TIMEOUT_MS = Number(process.env.FAULT_TIMEOUT_MS ?? 360_000);
const USER = 'fault-user';
const NAMESPACE = 'default';
const TASK_QUEUE = 'ebooks-fault';

describe('faults with books in flight (worker kills, Temporal and PostgreSQL restarts)', function () {
  this.timeout(COMPLETE_TIMEOUT_MS + 240_000);
  const rand = seededRandom(SEED);
  /** A random whole number of milliseconds in [lo, hi) seconds. */
  const between = (lo: number, hi: number) => Math.round((lo + rand() * (hi - lo)) * 1000);

  let tmp: string;
  let dataDir: string;
  let pgPort: number;
  let temporalPort: number;
  let dbFile: string;
  let pg: EmbeddedPostgres | undefined;
  let temporal: DevServer | undefined;
  const temporalPids: number[] = [];
  let groq: OpenAICompatServer | undefined;
  let openai: OpenAICompatServer | undefined;
  let config: Config;
  let services: Services | undefined;
  let connection: Connection | undefined;
  let client: Client;
  let server: Server | undefined;
  let url: string;
  let token: string;
  let workers: WorkerPool | undefined;
  const probes: ProbeResult[] = [];
  /** Provider calls with an event but no ledger row (see the last test). */
  const unledgered: string[] = [];
  const timeline: string[] = [];
  const t0 = Date.now();
  const mark = (what: string) => timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);

  const startTemporal = async () => {
    temporal = await startDevServer({ port: temporalPort, dbFile, namespace: NAMESPACE });
    temporalPids.push(temporal.process.pid!);
  };
  const startPg = async () => {
    pg = await startEmbeddedPostgres({
      dataDir: path.join(tmp, 'pg'),
      port: pgPort,
      // Durability is not under test here; a restart is a clean stop/start.
      postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    });
  };

  before(async function () {
    this.timeout(180_000);
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ebook-fault-'));
    // As root the package runs PostgreSQL as the `postgres` user, which must reach its data dir.
    await fs.chmod(tmp, 0o755);
    dataDir = path.join(tmp, 'data');
    dbFile = path.join(tmp, 'temporal', 'temporal.sqlite');
    [pgPort, temporalPort] = [await freePort(), await freePort()];
    // allSettled: a failed start must not hide the other, still running, from `after`.
    const started = await Promise.allSettled([startPg(), startTemporal()]);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    groq = await startOpenAICompatServer();
    openai = await startOpenAICompatServer();
    groq.setAlways('chat', { kind: 'status', status: 500 });

    const env: Record<string, string> = {
      DATA_DIR: dataDir,
      DATABASE_URL: pg!.url,
      TEMPORAL_ADDRESS: temporal!.address,
      TEMPORAL_NAMESPACE: NAMESPACE,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      LOG_LEVEL: 'warn',
      OFFLINE_PROVIDER_DELAY_MS: '300',
      CHAPTER_CONCURRENCY: '2',
      ...providerEnv({ groq, openai }),
      TEXT_PROVIDERS: 'groq,openai',
      // Pictures from the offline painter: the faults under test are in the text path and the services.
      IMAGE_PROVIDERS: 'offline',
      PROVIDER_ATTEMPT_BUDGET: '1',
      PROVIDER_BREAKER_THRESHOLD: '1',
      PROVIDER_BREAKER_COOLDOWN_MS: '600000',
    };
    config = loadConfig(env);
    services = await createServices(config);
    connection = await Connection.connect({ address: temporal!.address });
    client = new Client({ connection, namespace: NAMESPACE });
    const app = createApp({
      services,
      temporal: client,
      auth: clerkSettings(config),
      log: createLogger('api-fault', 'warn'),
      taskQueue: TASK_QUEUE,
      chapterConcurrency: 2,
      corsOrigins: [],
      // The test polls many books: the limiter is not what is under test.
      rateLimits: { userPerMinute: 100_000, ipPerMinute: 100_000 },
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    token = await signSessionToken(ensureDevKeys(dataDir), { userId: USER, ttlSeconds: 3 * 3600 });
    await services.repos.profiles.ensure({ clerkUserId: USER });
    await services.repos.profiles.setSubscription(USER, 'midnights');
    workers = new WorkerPool(env, path.join(tmp, 'workers.log'));
    workers.start();
  });

  after(async function () {
    this.timeout(120_000);
    const pids = [
      ...(workers?.all.map((w) => w.child.pid!) ?? []),
      ...temporalPids,
    ];
    await workers?.killAll();
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server!.close(r));
    }
    await services?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await temporal?.stop();
    await pg?.stop();
    await groq?.close();
    await openai?.close();
    // Nothing of ours may outlive the test: workers, Temporal, and PostgreSQL (found by its data dir).
    const left = stillAlive(pids);
    const { stdout } = await exec('ps', ['-eo', 'pid,args']);
    const pgLeft = stdout.split('\n').filter((l) => tmp && l.includes(tmp));
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    console.log(`    timeline:\n      ${timeline.join('\n      ')}`);
    assert.deepEqual(left, [], `processes left running: ${left.join(', ')}`);
    assert.deepEqual(pgLeft, [], `processes left running:\n${pgLeft.join('\n')}`);
  });

  /** Probes /readyz and two books' /status while a dependency is down. */
  const probeOutage = async (during: string, ids: string[]) => {
    const results = await Promise.all([
      probe(url, '/readyz', token, during),
      ...ids.slice(0, 2).map((id) => probe(url, `/v1/ebooks/${id}/status`, token, during)),
    ]);
    probes.push(...results);
  };

  /** Whether the current worker polls the task queue again (its identity is `pid@host`). */
  const workerPolls = async (pid: number, timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const res = await client.workflowService.describeTaskQueue({
          namespace: NAMESPACE,
          taskQueue: { name: TASK_QUEUE },
          taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
        });
        if ((res.pollers ?? []).some((p) => p.identity?.startsWith(`${pid}@`))) return true;
      } catch {
        // The server is still coming up.
      }
      await sleep(500);
    }
    return false;
  };

  const killAndReplaceWorker = async (n: number) => {
    const old = workers!.current!;
    await workers!.kill(old);
    const fresh = workers!.start();
    mark(`worker kill #${n}: SIGKILL ${old.child.pid}, started ${fresh.child.pid}`);
  };

  it('completes every book, with valid files and no completed step paid twice', async () => {
    // 1. N books of two chapters.
    const created = await Promise.all(
      Array.from({ length: BOOKS }, (_, i) =>
        api(url, 'POST', '/v1/ebooks', {
          token,
          body: { prompt: `A lighthouse keeper and a clockwork gull, voyage ${i + 1}`, chapterCount: 2 },
        }),
      ),
    );
    for (const c of created) assert.equal(c.status, 202, JSON.stringify(c.body));
    const ids: string[] = created.map((c) => c.body.id);
    const workflowIds: string[] = created.map((c) => c.body.workflowId);
    mark(`${BOOKS} books started`);

    // 2. The faults, spaced out at seeded-random moments. Kills come early so the
    // stuck activities' heartbeat/start-to-close timeouts (1-2 min) overlap.
    await sleep(between(2, 5));
    await killAndReplaceWorker(1);

    await sleep(between(4, 8));
    const beforeRestart = workers!.current!;
    await temporal!.stop();
    mark('Temporal stopped');
    await probeOutage('temporal down', ids);
    await sleep(between(1, 3));
    await startTemporal();
    mark('Temporal started');
    let reconnected = await workerPolls(beforeRestart.child.pid!, 30_000);
    if (reconnected && workers!.current === beforeRestart && workers!.alive(beforeRestart)) {
      mark(`worker ${beforeRestart.child.pid} reconnected to Temporal by itself`);
    } else {
      mark(`worker ${beforeRestart.child.pid} did not poll again within 30 s: replaced`);
      reconnected = false;
      await killAndReplaceWorker(0);
    }

    await sleep(between(3, 6));
    await killAndReplaceWorker(2);

    await sleep(between(4, 8));
    await pg!.stop();
    mark('PostgreSQL stopped');
    await probeOutage('postgres down', ids);
    await sleep(between(1, 3));
    await startPg();
    mark('PostgreSQL started');

    await sleep(between(3, 6));
    await killAndReplaceWorker(3);

    // 3. Every book completes.
    const deadline = Date.now() + COMPLETE_TIMEOUT_MS;
    let rows: Array<{ id: string; status: string; error: unknown }> = [];
    for (;;) {
      // A worker that died on its own (e.g. on the database restart) is restarted as `npm start` would.
      if (!workers!.alive()) {
        mark(`worker ${workers!.current!.child.pid} exited unexpectedly: restarted`);
        workers!.start();
      }
      try {
        rows = await services!.knex('memory_books').whereIn('id', ids).select('id', 'status', 'error');
      } catch {
        rows = [];
      }
      const failed = rows.filter((r) => r.status === 'failed' || r.status === 'cancelled');
      assert.deepEqual(failed, [], `books that did not complete:\n${workers!.tail()}`);
      if (rows.length === BOOKS && rows.every((r) => r.status === 'completed')) break;
      if (Date.now() > deadline) {
        const open = rows.filter((r) => r.status !== 'completed').map((r) => `${r.id}:${r.status}`);
        assert.fail(`not completed within ${COMPLETE_TIMEOUT_MS} ms: ${open.join(', ')}\n${workers!.tail()}`);
      }
      await sleep(1000);
    }
    mark('all books completed');

    assert.ok(reconnected, 'the worker reconnected to the restarted Temporal server by itself');
    assert.deepEqual(workers!.unexpectedExits, [], 'no worker died on its own');

    // 5. Files: every PDF passes qpdf --check, a sample of EPUBs passes epubcheck.
    const files = path.join(tmp, 'files');
    await fs.mkdir(files, { recursive: true });
    for (const id of ids) {
      for (const kind of ['pdf', 'epub'] as const) {
        const res = await fetch(`${url}/v1/ebooks/${id}/files/${kind}`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200, `${id} ${kind}`);
        await fs.writeFile(path.join(files, `${id}.${kind}`), Buffer.from(await res.arrayBuffer()));
      }
      // Exit status 0: no errors and no warnings (execFile rejects on anything else).
      await exec('qpdf', ['--check', path.join(files, `${id}.pdf`)]);
    }
    for (const id of ids.slice(0, 3)) {
      const report = await epubcheck(path.join(files, `${id}.epub`));
      assert.equal(report.checker.nError + report.checker.nFatal, 0, epubcheckSummary(report));
    }
    mark('files checked');

    // 6. Paid once: events and ledger rows agree per (book, step, chapter), and a
    // completed step has one successful provider call per attempt at most.
    const key = (step: string, index: unknown) => `${step}:${index ?? ''}`;
    const problems: string[] = [];
    for (const [i, id] of ids.entries()) {
      const events = await services!.knex('ebook_events').where({ ebook_id: id, type: 'provider.call' }).select('data');
      const ledger = await services!.knex('cost_ledger').where({ ebook_id: id }).select('step', 'chapter_index');
      const calls = new Map<string, number>();
      for (const e of events) {
        const d = e.data as { step: string; index?: number };
        calls.set(key(d.step, d.index), (calls.get(key(d.step, d.index)) ?? 0) + 1);
      }
      const paid = new Map<string, number>();
      for (const r of ledger) paid.set(key(r.step, r.chapter_index), (paid.get(key(r.step, r.chapter_index)) ?? 0) + 1);
      const done = await completedProviderSteps(client, workflowIds[i]);
      for (const k of new Set([...calls.keys(), ...paid.keys()])) {
        const [n, m] = [calls.get(k) ?? 0, paid.get(k) ?? 0];
        if (n === m) continue;
        const line = `${id} ${k}: ${n} provider.call events, ${m} ledger rows`;
        // Known race: recordCall publishes the event, then writes the ledger row, in two
        // statements; an attempt interrupted between them (SIGKILL, database gone) leaves an
        // event without a row, and the retry records both. Only that exact shape is tolerated.
        const attempt = done.find((d) => d.key === k)?.attempt ?? 1;
        if (n > m && m >= 1 && attempt > 1 && n <= attempt) unledgered.push(`${line} (completed on attempt ${attempt})`);
        else problems.push(line);
      }
      for (const s of ['outline:', 'chapter:1', 'chapter:2', 'illustration:1', 'illustration:2', 'cover:']) {
        if (!done.some((d) => d.key === s)) problems.push(`${id} ${s}: never completed in history`);
      }
      for (const d of done) {
        const n = calls.get(d.key) ?? 0;
        const ok = d.attempt === 1 ? n === 1 : n >= 1 && n <= d.attempt;
        if (!ok) problems.push(`${id} ${d.key}: ${n} provider calls for a step completed on attempt ${d.attempt}`);
      }
    }
    assert.deepEqual(problems, [], 'no completed step was paid for twice');
    mark('ledger checked');
  });

  // Separate from the scenario so a wrong status code does not hide whether the books survived.
  it('answers fast during the outages, with 503 problem+json and never a 500', function () {
    console.log(
      `    probes during outages:\n${probes
        .map((p) => `      [${p.during}] GET ${p.path} -> ${p.status} in ${p.ms} ms (${p.contentType}) ${p.body.slice(0, 160)}`)
        .join('\n')}`,
    );
    assert.ok(probes.length > 0, 'probes were taken');
    for (const p of probes) {
      assert.equal(typeof p.status, 'number', `GET ${p.path} (${p.during}) got no answer: ${p.status}`);
      assert.ok(p.ms < 5000, `GET ${p.path} (${p.during}) took ${p.ms} ms`);
      if (p.status === 503) assert.match(p.contentType, /application\/problem\+json/, `${p.path} 503 is problem+json`);
    }
    const readyz = probes.filter((p) => p.path === '/readyz');
    assert.ok(readyz.every((p) => p.status === 503), `/readyz says not ready during outages: ${readyz.map((p) => p.status)}`);
    const fiveHundreds = probes.filter((p) => p.status === 500);
    assert.deepEqual(
      fiveHundreds.map((p) => `[${p.during}] ${p.path} -> 500 ${p.body}`),
      [],
      'no 500 while a dependency is down (a database outage should be a 503 problem+json)',
    );
  });

  it('writes every provider call to the event log and the cost ledger together', function () {
    assert.deepEqual(unledgered, [], 'provider calls without a ledger row');
  });
});
