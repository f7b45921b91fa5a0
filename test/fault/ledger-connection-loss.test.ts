/**
 * PostgreSQL cuts the worker's connections (what `pg_ctl restart -m fast` does to every
 * backend: 57P01 "terminating connection due to administrator command") while a
 * provider call's ledger transaction is open. The worker process stays up, the activity
 * fails with a retryable DatabaseUnavailable failure naming the server's 57P01 (not
 * the ROLLBACK's "Connection terminated" that knex rejects with), Temporal retries it,
 * and the book completes with every step recorded once.
 *
 * How the transaction is caught open: once the outline is recorded, the test holds an
 * EXCLUSIVE lock on cost_ledger, so the next step's recordCall (activities/provider-calls.ts) waits inside its
 * transaction at the INSERT (seen in pg_locks), holding the book's row lock; the test then terminates every
 * backend of the book's database but its own, and releases the lock.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { useTestStack } from '../helpers/stack';
import { spawnEngineProcess, type EngineProcess } from '../helpers/process';
import { api, waitFor } from '../helpers/http';
import { completedProviderSteps } from '../helpers/fault';
import { signSessionToken } from '../../lib/tokens';

const OFFLINE = { TEXT_PROVIDERS: 'offline', IMAGE_PROVIDERS: 'offline' };
/** Slowed, so the test can take its lock between the outline's record and the next step's. */
const SLOW = { OFFLINE_PROVIDER_DELAY_MS: '1500' };
const STEPS = ['outline:', 'chapter:1', 'illustration:1', 'cover:'];

describe('fault: database connections cut while a ledger transaction is open', function () {
  this.timeout(300_000);
  const stack = useTestStack(OFFLINE);
  let url: string;
  let worker: EngineProcess;
  let admin: pg.Client | undefined;

  before(async () => {
    ({ url } = await stack.startApi());
    worker = spawnEngineProcess(stack, 'workers/main.ts', { ...OFFLINE, ...SLOW });
    stack.defer(() => worker.stop(5_000));
    await worker.waitUntil(async () => {
      const res = await stack.client.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: stack.taskQueue },
        taskQueueType: 2, // activities
      });
      return Boolean(res.pollers?.length);
    });
  });

  it('keeps the worker up, retries the activity, and completes the book paid once', async () => {
    const token = await signSessionToken(stack.devKeys, { userId: 'ledger-fault-user' });
    const created = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A lighthouse keeper and a moth', chapterCount: 1 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id, workflowId } = created.body as { id: string; workflowId: string };

    // Once the outline is recorded, the next record (a chapter, a picture) must wait.
    // (The outline's own record runs beside other writes in Promise.all, and whichever
    // fails first is the activity's error; the later steps await theirs alone.)
    const ledgerRows = () => stack.services.knex('cost_ledger').where({ ebook_id: id }).select('step');
    await waitFor('the outline to be recorded', async () => (await ledgerRows()).some((r) => r.step === 'outline'), 120_000, 50);
    admin = new pg.Client({ connectionString: stack.databaseUrl, application_name: 'ledger-fault-test' });
    // The stack drops the database at the end (which ends this connection too).
    admin.on('error', () => undefined);
    await admin.connect();
    stack.defer(() => admin?.end().catch(() => undefined));
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE cost_ledger IN EXCLUSIVE MODE');
    const recordedBefore = (await ledgerRows()).map((r) => r.step);

    // A step's ledger transaction, waiting at its INSERT behind the test's lock.
    const waiting = await waitFor(
      'the ledger INSERT to wait inside its transaction',
      async () => {
        // This connection is inside its transaction, where pg_stat_activity is a snapshot
        // taken once: cleared before each look.
        await admin!.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await admin!.query(
          `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.relation = 'cost_ledger'::regclass AND NOT l.granted AND l.mode = 'RowExclusiveLock'
              AND a.datname = current_database() AND a.xact_start IS NOT NULL`,
        );
        return rows[0]?.pid as number | undefined;
      },
      120_000,
      100,
    );
    assert.ok(waiting > 0);

    // Every other backend of this database goes, as in a fast restart: the waiting
    // transaction, the worker's idle pooled connections, the in-process API's.
    await admin.query('SELECT pg_stat_clear_snapshot()');
    const { rows: cut } = await admin.query(
      `SELECT pid, pg_terminate_backend(pid) AS done FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    assert.ok(cut.some((r) => r.pid === waiting && r.done), 'the open ledger transaction was terminated');
    await admin.query('COMMIT');

    const end = await waitFor(
      'the book to finish',
      async () => {
        worker.child.exitCode === null || assert.fail(`the worker exited:\n${worker.output().slice(-3000)}`);
        const s = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token }).catch(() => undefined);
        return s && ['completed', 'failed', 'cancelled'].includes(s.body.status) ? s.body : undefined;
      },
      180_000,
      500,
    );
    assert.equal(end.status, 'completed', JSON.stringify(end));
    assert.equal(worker.child.exitCode, null, 'the worker is still running');
    assert.equal(worker.child.signalCode, null);

    // The failed attempt said why, with the server's own error, and was retried.
    const out = worker.output();
    const said = /recording the (\w+) call failed: the database connection was lost \(57P01 terminating connection due to administrator command/.exec(out);
    assert.ok(said, `the activity's failure names the server's 57P01:\n${out.slice(-4000)}`);
    assert.ok(!recordedBefore.includes(said[1]), `${said[1]} was not recorded before the cut`);
    assert.doesNotMatch(out, /failed unobserved|unhandled rejection/i, 'no promise rejected unobserved');
    const steps = await completedProviderSteps(stack.client, workflowId);
    assert.ok(
      steps.some((s) => s.key.startsWith(`${said[1]}:`) && s.attempt >= 2),
      `the ${said[1]} step completed on a later attempt: ${JSON.stringify(steps)}`,
    );

    // Paid once: the first attempt's row went with its transaction.
    const ledger = await stack.services.knex('cost_ledger').where({ ebook_id: id }).select('step', 'chapter_index');
    const keys = ledger.map((r) => `${r.step}:${r.chapter_index ?? ''}`).sort();
    assert.deepEqual(keys, [...STEPS].sort());
    const calls = await stack.services.knex('ebook_events').where({ ebook_id: id, type: 'provider.call' }).count({ n: '*' });
    assert.equal(Number(calls[0].n), STEPS.length, 'one provider.call event per step');
  });
});
