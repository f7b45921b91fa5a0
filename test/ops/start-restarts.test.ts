/**
 * Under `npm start`, a dead embedded PostgreSQL or Temporal dev server is started
 * again like the worker and the API, and a book in flight finishes: the start script
 * runs in a throwaway DATA_DIR, a book starts, then the PostgreSQL postmaster and the
 * Temporal dev server are each SIGKILLed (the pids the script and PostgreSQL report).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ensureDevKeys } from '../../lib/dev-keys';
import { signSessionToken } from '../../lib/tokens';
import { api, waitFor } from '../helpers/http';
import { spawnStartScript, type StartScript } from '../helpers/start-script';

describe('ops: npm start restarts a dead PostgreSQL and Temporal server', function () {
  this.timeout(480_000);
  let engine: StartScript | undefined;

  after(async () => {
    await engine?.stop();
  });

  it('kills each, sees it come back, and the book in flight completes', async () => {
    // Offline providers slow enough that the book is still being written while its services die.
    engine = await spawnStartScript({ OFFLINE_PROVIDER_DELAY_MS: '1500', LOG_LEVEL: 'warn' });
    await engine.ready();
    const { dataDir, url } = engine;
    const output = () => engine!.output();
    const alive = () => engine!.assertRunning();

    const token = await signSessionToken(ensureDevKeys(dataDir), { userId: 'restarts' });
    const started = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A clock that forgets', chapterCount: 4, chapterMode: 'sequential' } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id = started.body.id as string;
    const ready = async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200;
    await waitFor('the book to run', async () => (await api(url, 'GET', `/v1/ebooks/${id}/status`, { token })).body.status === 'running');

    // PostgreSQL: its postmaster's pid is the first line of postmaster.pid.
    const pgPid = Number(fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    assert.ok(pgPid > 0);
    process.kill(pgPid, 'SIGKILL');
    await waitFor('the API to notice', async () => (alive(), !(await ready())), 30_000, 200);
    const down = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token }).catch(() => undefined);
    if (down) assert.ok([200, 503].includes(down.status), `while PostgreSQL is down: ${down.status}`);
    await waitFor('PostgreSQL to be restarted', async () => (alive(), output().includes('PostgreSQL is running again')), 120_000, 500);
    await waitFor('readiness again', async () => (alive(), ready()), 120_000, 500);

    // Temporal: the start script names its dev server's pid.
    const temporalPid = Number(/Temporal dev server running \(pid (\d+)\)/.exec(output())?.[1]);
    assert.ok(temporalPid > 0, output().slice(-2000));
    process.kill(temporalPid, 'SIGKILL');
    await waitFor('Temporal to be restarted', async () => (alive(), /Temporal dev server running again \(pid \d+\)/.test(output())), 120_000, 500);

    const end = await waitFor('the book to finish', async () => {
      alive();
      const s = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token }).catch(() => undefined);
      return s && ['completed', 'failed', 'cancelled'].includes(s.body.status) ? s.body : undefined;
    }, 300_000, 1000);
    assert.equal(end.status, 'completed', JSON.stringify(end));
    assert.ok(await ready(), 'ready at the end');
    assert.match(output(), /the embedded PostgreSQL stopped answering; restarting it/);
    assert.match(output(), /the Temporal dev server exited \(SIGKILL\); restarting/);
  });
});
