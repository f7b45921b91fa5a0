/**
 * Ctrl-C under `npm start`: the terminal sends SIGINT to the whole foreground process
 * group. The start script must stop the worker and the API first (they drain against a
 * live database), then the servers, the embedded PostgreSQL last, and leave nothing
 * running. PostgreSQL runs in a process group of its own for that: in the script's
 * group it received the Ctrl-C itself and shut down while the worker was still draining.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { exec, waitFor } from '../helpers/http';
import { stillAlive } from '../helpers/fault';
import { spawnStartScript, type StartScript } from '../helpers/start-script';

describe('ops: Ctrl-C stops npm start in order', function () {
  this.timeout(480_000);
  let engine: StartScript | undefined;

  after(async () => {
    await engine?.stop();
  });

  it('stops the worker and the API before PostgreSQL, and nothing is left running', async () => {
    engine = await spawnStartScript({ LOG_LEVEL: 'info' }, () => ({}), { detached: true });
    await engine.ready();
    const { child, dataDir } = engine;
    const group = child.pid!;

    // Everything the script started: its own group (worker, API, Temporal dev server) and
    // the postmaster with its backends (their own group).
    const pgPid = Number(fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    assert.ok(pgPid > 0);
    const { stdout: ps } = await exec('ps', ['-eo', 'pid=,pgid=,args=']);
    const procs = ps
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 3)
      .map(([pid, pgid, ...args]) => ({ pid: Number(pid), pgid: Number(pgid), args: args.join(' ') }));
    const inGroup = procs.filter((p) => p.pgid === group);
    assert.ok(inGroup.some((p) => p.args.includes('workers/main.ts')), 'the worker runs in the script\'s group');
    assert.ok(inGroup.some((p) => p.args.includes('api/main.ts')), 'the API runs in the script\'s group');
    const pgGroup = procs.filter((p) => p.pgid === pgPid);
    assert.ok(pgGroup.some((p) => p.pid === pgPid), 'the postmaster leads a group of its own');
    assert.ok(!inGroup.some((p) => p.pid === pgPid), 'the postmaster is not in the script\'s group');
    const started = [...inGroup, ...pgGroup].map((p) => p.pid);

    // Ctrl-C: SIGINT to the whole group, as a terminal sends it.
    // 'close', not 'exit': the output is complete only once every writer of the shared
    // pipe (the script, its worker and API) has closed it.
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    process.kill(-group, 'SIGINT');
    const code = await exited;
    const out = engine.output();
    assert.equal(code, 0, out.slice(-3000));

    const at = (what: string | RegExp) => {
      const i = typeof what === 'string' ? out.indexOf(what) : out.search(what);
      assert.ok(i >= 0, `the output says ${what}:\n${out.slice(-3000)}`);
      return i;
    };
    const workerLogged = at('"msg":"worker stopped"');
    const apiLogged = at('"msg":"API stopping"');
    const workerExit = at('[engine] worker stopped (exit 0)');
    const apiExit = at('[engine] api stopped (exit 0)');
    const pgShutdown = at(/\[postgres\] .*received fast shutdown request/);
    const pgStopped = at('[engine] PostgreSQL stopped');
    assert.ok(workerLogged < workerExit, 'the worker logged its clean stop before it exited');
    assert.ok(apiLogged < apiExit);
    assert.ok(
      workerExit < pgShutdown && apiExit < pgShutdown,
      `PostgreSQL heard of the shutdown only after the worker and the API stopped:\n${out.slice(-3000)}`,
    );
    assert.ok(pgShutdown < pgStopped && pgStopped < at('[engine] stopped'));

    // Nothing left: none of the pids, and no process naming the data folder.
    await waitFor('every process to be gone', async () => stillAlive(started).length === 0, 20_000, 200).catch(() => undefined);
    assert.deepEqual(stillAlive(started), [], 'processes left running');
    const { stdout: after } = await exec('ps', ['-eo', 'pid=,args=']);
    assert.deepEqual(after.split('\n').filter((l) => l.includes(dataDir)), [], 'processes naming the data folder');
  });
});
