import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../db/embedded';
import { freePort } from '../helpers/postgres';

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('db embedded PostgreSQL', () => {
  const dataDir = path.resolve(__dirname, '..', '..', '.test-data', `embedded-${process.pid}`);

  before(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('initialises a new folder, and a second start keeps the data', async () => {
    const port = await freePort();
    const first = await startEmbeddedPostgres({ dataDir, port });
    try {
      assert.equal(first.url, `postgres://postgres:postgres@127.0.0.1:${port}/ebooks`);
      assert.ok(fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION')));
      await query(first.url, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')`);
      const enc = await query(first.url, 'SHOW server_encoding');
      assert.equal(enc.rows[0].server_encoding, 'UTF8');
    } finally {
      await first.stop();
    }

    const started = Date.now();
    const second = await startEmbeddedPostgres({ dataDir, port });
    try {
      assert.ok(Date.now() - started < 15_000, 'a restart takes seconds');
      const { rows } = await query(second.url, 'SELECT v FROM kept');
      assert.deepEqual(rows, [{ v: 'still here' }]);
    } finally {
      await second.stop();
    }
  });

  it('refuses a non-empty folder that is not a cluster, and reports a port in use', async () => {
    const odd = path.join(dataDir, 'odd');
    fs.mkdirSync(path.join(odd, 'postgres'), { recursive: true });
    fs.writeFileSync(path.join(odd, 'postgres', 'notes.txt'), 'mine');
    await assert.rejects(startEmbeddedPostgres({ dataDir: odd, port: await freePort() }), /neither empty nor/);

    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await assert.rejects(startEmbeddedPostgres({ dataDir, port }), /start failed[\s\S]*(in use|could not)/);
    } finally {
      blocker.close();
    }
  });

  it('starts in a private DATA_DIR (mode 0700, as mktemp -d makes it), as root or not', async () => {
    const privateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebook-private-'));
    assert.equal(fs.statSync(privateDir).mode & 0o777, 0o700);
    const server = await startEmbeddedPostgres({ dataDir: privateDir, port: await freePort() });
    try {
      const { rows } = await query(server.url, 'SELECT 1 AS one');
      assert.deepEqual(rows, [{ one: 1 }]);
      // Nobody else may list the folder; at most walk through it.
      assert.equal(fs.statSync(privateDir).mode & 0o006, 0);
    } finally {
      await server.stop();
      fs.rmSync(privateDir, { recursive: true, force: true });
    }
  });

  it('as root, names DATA_DIR and the way out when a private folder above it blocks the postgres user', async function () {
    if (process.getuid?.() !== 0) this.skip(); // only root hands the server to another user
    const outer = fs.mkdtempSync(path.join(os.tmpdir(), 'ebook-outer-'));
    const inner = path.join(outer, 'data');
    fs.mkdirSync(inner);
    try {
      await assert.rejects(
        startEmbeddedPostgres({ dataDir: inner, port: await freePort() }),
        (err: Error) => err.message.includes(`DATA_DIR=${inner}`) && err.message.includes(outer) && /DATABASE_URL/.test(err.message),
      );
      assert.equal(fs.statSync(outer).mode & 0o777, 0o700, 'a folder above DATA_DIR is left as it was');
    } finally {
      fs.rmSync(outer, { recursive: true, force: true });
    }
  });
});
