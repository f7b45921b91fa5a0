/**
 * The worker's policy for a promise that rejects with nobody listening
 * (workers/rejections.ts), in a real Node process: a lost database connection is
 * logged and the process keeps running; anything else still ends it with exit 1.
 * The rejections are real ones: a pg client's query on a connection the server
 * terminated (57P01), and a plain bug.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { judgeUnhandledRejection } from '../../workers/rejections';
import { isConnectionLoss } from '../../db/errors';
import { getTestServerUrl } from '../helpers/postgres';

const ROOT = path.resolve(__dirname, '..', '..');

/** Runs `body` after installing the policy; resolves with the exit code and output. */
function run(body: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const script = `
    const { installUnhandledRejectionPolicy } = require('./workers/rejections');
    const { createLogger } = require('./lib/logger');
    installUnhandledRejectionPolicy(createLogger('worker', 'info'));
    (async () => { ${body} })();
  `;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe('worker: unhandled rejections', function () {
  this.timeout(60_000);

  it('classifies connection losses, and nothing else, as survivable', () => {
    const withCode = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});
    for (const e of [
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('the database system is shutting down', '57P03'),
      withCode('ROLLBACK - Connection terminated unexpectedly'),
      withCode('insert into x - Client has encountered a connection error and is not queryable'),
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' }),
    ]) {
      assert.ok(isConnectionLoss(e), e.message);
      assert.equal(judgeUnhandledRejection(e), 'keep-running', e.message);
    }
    for (const e of [
      new TypeError("Cannot read properties of undefined (reading 'id')"),
      withCode('duplicate key value violates unique constraint', '23505'),
      withCode('deadlock detected', '40P01'),
      undefined,
      'a string',
    ]) {
      assert.equal(judgeUnhandledRejection(e), 'exit', String((e as Error)?.message ?? e));
    }
  });

  it('keeps running after a query on a terminated connection rejects unobserved', async () => {
    const url = await getTestServerUrl();
    const { code, out } = await run(
      `
      const pg = require('pg');
      const victim = new pg.Client({ connectionString: process.env.PG_URL });
      victim.on('error', () => undefined);
      await victim.connect();
      const admin = new pg.Client({ connectionString: process.env.PG_URL });
      await admin.connect();
      const { rows } = await victim.query('SELECT pg_backend_pid() AS pid');
      // Started and never awaited: it rejects with 57P01 when its backend is terminated.
      victim.query('SELECT pg_sleep(30)');
      await new Promise((r) => setTimeout(r, 300));
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      await admin.end();
      await new Promise((r) => setTimeout(r, 500));
      console.log('still running');
      process.exit(0);
      `,
      { PG_URL: url },
    );
    assert.equal(code, 0, out);
    assert.match(out, /"code":"57P01"/, out);
    assert.match(out, /connection lost\); the worker keeps running/);
    assert.match(out, /still running/);
  });

  it('still exits 1 on any other unhandled rejection', async () => {
    const { code, out } = await run(`
      Promise.reject(new TypeError('a bug'));
      await new Promise((r) => setTimeout(r, 500));
      console.log('still running');
    `);
    assert.equal(code, 1, out);
    assert.match(out, /unhandled rejection; the worker exits/);
    assert.doesNotMatch(out, /still running/);
  });
});
