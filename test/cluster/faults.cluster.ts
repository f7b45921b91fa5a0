/**
 * `npm run test:cluster`: faults on the production-shaped cluster of `npm run cluster`
 * (scripts/cluster.ts), run by hand before each release (it needs the Temporal server
 * built into .tools/ and takes several minutes; see docs/operations.md).
 *
 * 30 books of two chapters go in through the API balancer to three workers. While they
 * run: a history host is SIGKILLed and started again, a matching host and a frontend
 * (behind haproxy) are SIGKILLed and stay down, one engine worker is SIGKILLed, and the
 * cluster's PostgreSQL (Temporal's two databases and the engine's) is stopped and
 * started. Afterwards every book completed, every PDF passes qpdf --check and a sample
 * of EPUBs passes EPUBCheck, every provider step is in the ledger exactly once and
 * matches its event and the workflow's history, and every row says what happened.
 *
 * CLUSTER_FAULT_BOOKS (30), CLUSTER_FAULT_SEED (1), CLUSTER_FAULT_TIMEOUT_MS (900000),
 * CLUSTER_PORT_BASE (a free block is found otherwise).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startCluster, clusterPorts, type Cluster, type ClusterProcess } from '../../scripts/cluster';
import { createDb } from '../../db/knex';
import { ensureDevKeys } from '../../lib/dev-keys';
import { signSessionToken } from '../../lib/tokens';
import { api, exec } from '../helpers/http';
import { epubcheck, epubcheckSummary } from '../helpers/validators';
import { completedProviderSteps, seededRandom, sleep, stillAlive } from '../helpers/fault';

const BOOKS = Number(process.env.CLUSTER_FAULT_BOOKS ?? 30);
const SEED = Number(process.env.CLUSTER_FAULT_SEED ?? 1);
const COMPLETE_TIMEOUT_MS = Number(process.env.CLUSTER_FAULT_TIMEOUT_MS ?? 900_000);
const USER = 'cluster-fault-user';
const TASK_QUEUE = 'ebooks-cluster-fault';
const STEPS = ['outline:', 'chapter:1', 'chapter:2', 'illustration:1', 'illustration:2', 'cover:'];

/** A port base whose whole block (base .. base+3131) is free. */
async function freePortBase(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let base = 21000 + (process.pid % 40) * 100; base <= 31600; base += 100) {
    const p = clusterPorts(base);
    const all = [p.apiBalancer, ...p.apis, ...p.workerMetrics, p.postgres, p.balancer, p.balancerStats,
      ...[...p.frontend, ...p.history, ...p.matching, ...p.worker].flatMap((x) => [x.grpc, x.membership, x.http, x.metrics])];
    if ((await Promise.all(all.map(free))).every(Boolean)) return base;
  }
  throw new Error('no free block of ports for the cluster');
}

describe('cluster: 30 books through host, frontend, worker and database faults', function () {
  this.timeout(COMPLETE_TIMEOUT_MS + 600_000);
  const rand = seededRandom(SEED);
  const between = (lo: number, hi: number) => Math.round((lo + rand() * (hi - lo)) * 1000);

  let tmp: string;
  let cluster: Cluster | undefined;
  let knex: ReturnType<typeof createDb> | undefined;
  let connection: Connection | undefined;
  let client: Client;
  let token: string;
  const pids: number[] = [];
  const killed = new Set<ClusterProcess>();
  const timeline: string[] = [];
  const t0 = Date.now();
  const mark = (what: string) => timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);

  before(async function () {
    this.timeout(600_000);
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ebook-cluster-'));
    await fs.chmod(tmp, 0o755);
    const base = process.env.CLUSTER_PORT_BASE ? Number(process.env.CLUSTER_PORT_BASE) : await freePortBase();
    cluster = await startCluster({
      dir: tmp,
      portBase: base,
      workers: 3,
      apis: 2,
      // The embedded PostgreSQL, whatever DATABASE_URL says: the test restarts it.
      databaseUrl: undefined,
      engine: true,
      // The test decides what comes back: nothing restarts behind its back.
      supervise: false,
      postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      engineEnv: {
        TEMPORAL_TASK_QUEUE: TASK_QUEUE,
        LOG_LEVEL: 'warn',
        // Offline providers, slowed so the faults land while books are mid-flight.
        OFFLINE_PROVIDER_DELAY_MS: '400',
        CHAPTER_CONCURRENCY: '2',
        RATE_LIMIT_USER_PER_MINUTE: '100000',
        RATE_LIMIT_IP_PER_MINUTE: '100000',
      },
      log: (l) => mark(`[cluster] ${l}`),
    });
    mark(`cluster up on port base ${base}`);
    for (const p of [...cluster.temporal, ...cluster.engineWorkers, ...cluster.apis, cluster.balancer]) pids.push(p.pid!);
    knex = createDb(cluster.databaseUrl);
    connection = await Connection.connect({ address: cluster.temporalAddress });
    client = new Client({ connection, namespace: 'default' });
    token = await signSessionToken(ensureDevKeys(cluster.engineEnv.DATA_DIR!), { userId: USER, ttlSeconds: 3 * 3600 });
    // A paid plan: the free plan's book allowance is not what is under test.
    await knex('profiles')
      .insert({ clerk_user_id: USER, subscription_tier: 'midnights' })
      .onConflict('clerk_user_id')
      .merge(['subscription_tier']);
  });

  after(async function () {
    this.timeout(180_000);
    for (const p of cluster ? [...cluster.temporal, ...cluster.engineWorkers, ...cluster.apis] : []) if (p.pid) pids.push(p.pid);
    await connection?.close().catch(() => undefined);
    await knex?.destroy().catch(() => undefined);
    await cluster?.stop();
    const left = stillAlive([...new Set(pids)]);
    const { stdout } = await exec('ps', ['-eo', 'pid,args']);
    const pgLeft = stdout.split('\n').filter((l) => tmp && l.includes(tmp));
    console.log(`    timeline:\n      ${timeline.join('\n      ')}`);
    if (tmp && !process.env.CLUSTER_KEEP) await fs.rm(tmp, { recursive: true, force: true });
    assert.deepEqual(left, [], `processes left running: ${left.join(', ')}`);
    assert.deepEqual(pgLeft, [], `processes left running:\n${pgLeft.join('\n')}`);
  });

  /** How many of the books are done, so the timeline shows each fault landed mid-run. */
  let bookIds: string[] = [];
  const done = async () => {
    try {
      const [{ n }] = await knex!('memory_books').whereIn('id', bookIds).where({ status: 'completed' }).count({ n: '*' });
      return `${n}/${bookIds.length} completed`;
    } catch {
      return 'database unreachable';
    }
  };
  const kill = async (p: ClusterProcess) => {
    killed.add(p);
    const pid = p.pid;
    await p.kill('SIGKILL');
    mark(`SIGKILL ${p.name} (pid ${pid}); ${await done()}`);
  };

  it('completes every book with valid files, each step paid once, and right rows', async () => {
    const c = cluster!;
    // 1. The books, through the API balancer (so both API processes take some).
    const created = await Promise.all(
      Array.from({ length: BOOKS }, (_, i) =>
        api(c.apiUrl, 'POST', '/v1/ebooks', {
          token,
          body: { prompt: `A cartographer and a paper kite, map ${i + 1}`, chapterCount: 2 },
        }),
      ),
    );
    for (const r of created) assert.equal(r.status, 202, JSON.stringify(r.body));
    const ids: string[] = created.map((r) => r.body.id);
    const workflowIds: string[] = created.map((r) => r.body.workflowId);
    bookIds = ids;
    mark(`${BOOKS} books started`);

    // 2. The faults, at seeded-random moments while the books run.
    await sleep(between(2, 4));
    const history1 = c.byName('history-1');
    await kill(history1);
    await sleep(between(3, 6));
    history1.start();
    killed.delete(history1);
    pids.push(history1.pid!);
    mark(`started history-1 again (pid ${history1.pid})`);

    await sleep(between(2, 4));
    await kill(c.byName('matching-2'));

    await sleep(between(2, 4));
    await kill(c.byName('frontend-1'));
    const hostsKilledAt = Date.now();

    await sleep(between(2, 4));
    await kill(c.engineWorkers[0]);

    await sleep(between(2, 4));
    mark(`PostgreSQL stopping; ${await done()}`);
    await c.restartPostgres(between(1, 3));
    mark('PostgreSQL started again');

    // 3. Every book completes (on the two workers left).
    const deadline = Date.now() + COMPLETE_TIMEOUT_MS;
    let rows: Array<Record<string, unknown>> = [];
    for (;;) {
      try {
        rows = await knex!('memory_books').whereIn('id', ids).select('*');
      } catch {
        rows = [];
      }
      const failed = rows.filter((r) => r.status === 'failed' || r.status === 'cancelled');
      assert.deepEqual(failed.map((r) => `${r.id} ${r.status} ${JSON.stringify(r.error)}`), [], 'books that did not complete');
      if (rows.length === BOOKS && rows.every((r) => r.status === 'completed')) break;
      if (Date.now() > deadline) {
        const open = rows.filter((r) => r.status !== 'completed').map((r) => `${r.id}:${r.status}:${r.stage}`);
        assert.fail(`not completed within ${COMPLETE_TIMEOUT_MS} ms: ${open.join(', ')}`);
      }
      await sleep(2000);
    }
    mark(`all ${BOOKS} books completed`);
    assert.ok(timeline.some((l) => l.includes('SIGKILL engine-worker-1') && !l.includes(`${BOOKS}/${BOOKS}`)), 'the faults came while books were still running');

    // Membership is real: the restarted history host heartbeats in the ring again, the killed
    // matching host and frontend do not, and every other host does.
    // A dead host's last heartbeat must be older than the 30 s window looked at.
    await sleep(Math.max(0, hostsKilledAt + 35_000 - Date.now()));
    const temporalDb = new URL(c.adminUrl);
    temporalDb.pathname = '/temporal';
    const tdb = createDb(temporalDb.toString());
    try {
      const fresh: Array<{ rpc_port: number }> = await tdb('cluster_membership')
        .where('last_heartbeat', '>', tdb.raw("now() at time zone 'utc' - interval '30 seconds'"))
        .distinct('rpc_port');
      const live = new Set(fresh.map((r) => Number(r.rpc_port)));
      const member = (role: 'history' | 'matching' | 'frontend' | 'worker', i: number) => c.ports[role][i].membership;
      for (const [role, i] of [['history', 0], ['history', 1], ['matching', 0], ['frontend', 1], ['worker', 0]] as const) {
        assert.ok(live.has(member(role, i)), `${role}-${i + 1} heartbeats in the ring`);
      }
      assert.ok(!live.has(member('matching', 1)), 'the killed matching-2 is out of the ring');
      assert.ok(!live.has(member('frontend', 0)), 'the killed frontend-1 is out of the ring');
    } finally {
      await tdb.destroy();
    }

    // Nothing died that the test did not kill: the faults were survived, not sidestepped.
    const surprises = [...c.temporal, ...c.engineWorkers, ...c.apis, c.balancer]
      .filter((p) => !killed.has(p))
      .flatMap((p) => p.unexpectedExits.map((e) => `${p.name} pid ${e.pid} exited ${e.signal ?? e.code}`));
    const died = [...c.temporal, ...c.engineWorkers, ...c.apis, c.balancer].filter((p) => !killed.has(p) && p.unexpectedExits.length);
    const tails = died
      .map((p) => `--- ${p.logFile} (last lines)\n${readFileSync(p.logFile, 'utf8').split('\n').slice(-40).join('\n')}`)
      .join('\n');
    assert.deepEqual(surprises, [], `no process died on its own\n${tails}`);

    // 4. Rows: completed, at the last stage, two chapters with text, files and cover recorded.
    for (const r of rows) {
      assert.equal(Number(r.progress), 1, `${r.id} progress`);
      assert.ok(r.pdf_key && r.epub_key && r.cover_image_key, `${r.id} has its file keys`);
      assert.equal((r.chapters as unknown[]).length, 2, `${r.id} has two chapters`);
      assert.equal(r.error, null, `${r.id} has no error`);
    }
    // Temporal agrees, and its visibility (SQL, on the restarted PostgreSQL) finds them by search attribute.
    for (const wf of workflowIds) {
      assert.equal((await client.workflow.getHandle(wf).describe()).status.name, 'COMPLETED', wf);
    }
    let listed = 0;
    for (let i = 0; i < 30; i++) {
      listed = 0;
      for await (const _ of client.workflow.list({ query: `EbookUserId = '${USER}' AND ExecutionStatus = 'Completed'` })) listed++;
      if (listed >= BOOKS) break;
      await sleep(1000);
    }
    assert.equal(listed, BOOKS, 'visibility lists every book by EbookUserId');

    // 5. Files: every PDF passes qpdf --check; a sample of EPUBs passes EPUBCheck.
    const files = path.join(tmp, 'files-out');
    await fs.mkdir(files, { recursive: true });
    for (const id of ids) {
      for (const kind of ['pdf', 'epub'] as const) {
        const res = await fetch(`${c.apiUrl}/v1/ebooks/${id}/files/${kind}`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200, `${id} ${kind}`);
        await fs.writeFile(path.join(files, `${id}.${kind}`), Buffer.from(await res.arrayBuffer()));
      }
      await exec('qpdf', ['--check', path.join(files, `${id}.pdf`)]);
    }
    for (const id of ids.slice(0, 3)) {
      const report = await epubcheck(path.join(files, `${id}.epub`));
      assert.equal(report.checker.nError + report.checker.nFatal, 0, epubcheckSummary(report));
    }
    mark('files checked');

    // 6. Paid once: per book, each provider step has exactly one ledger row and one
    // provider.call event, and the workflow's history completed that step.
    const problems: string[] = [];
    const key = (step: unknown, index: unknown) => `${step}:${index ?? ''}`;
    for (const [i, id] of ids.entries()) {
      const ledger = await knex!('cost_ledger').where({ ebook_id: id }).select('step', 'chapter_index');
      const events = await knex!('ebook_events').where({ ebook_id: id, type: 'provider.call' }).select('data');
      const count = (keys: string[]) => keys.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>());
      const paid = count(ledger.map((r) => key(r.step, r.chapter_index)));
      const called = count(events.map((e) => key((e.data as { step: string }).step, (e.data as { index?: number }).index)));
      const done = new Set((await completedProviderSteps(client, workflowIds[i])).map((d) => d.key));
      for (const s of STEPS) {
        if (paid.get(s) !== 1) problems.push(`${id} ${s}: ${paid.get(s) ?? 0} ledger rows`);
        if (called.get(s) !== 1) problems.push(`${id} ${s}: ${called.get(s) ?? 0} provider.call events`);
        if (!done.has(s)) problems.push(`${id} ${s}: never completed in history`);
      }
      for (const k of paid.keys()) if (!STEPS.includes(k)) problems.push(`${id} ${k}: unexpected ledger row`);
    }
    assert.deepEqual(problems, [], 'every step paid exactly once');
  });
});
