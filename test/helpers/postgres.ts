/**
 * PostgreSQL for tests: the server at TEST_DATABASE_URL (or DATABASE_URL) when
 * set, else one embedded server for the whole mocha run, started on first use.
 * Every createTestDatabase() call gets its own fresh database.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Knex } from 'knex';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../db/embedded';
import { createDb } from '../../db/knex';
import { migrate } from '../../db/migrate';
import { onGlobalTeardown } from './global';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

let serverUrl: Promise<string> | undefined;
let counter = 0;

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function startServer(): Promise<string> {
  const external = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (external) return external;
  const dataDir = path.join(REPO_ROOT, '.test-data', `pg-${process.pid}`);
  fs.rmSync(dataDir, { recursive: true, force: true }); // a dead run's leftovers under a reused pid
  const server = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    // Durability is worthless for a throwaway server; speed is not.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
  });
  onGlobalTeardown(async () => {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return server.adminUrl;
}

/** Admin URL of the test server (a database that always exists; create others from it). */
export function getTestServerUrl(): Promise<string> {
  serverUrl ??= startServer().catch((err) => {
    serverUrl = undefined; // let a later call try again
    throw err;
  });
  return serverUrl;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: await getTestServerUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  name: string;
  knex: Knex;
  /** Closes `knex` and drops the database (other connections to it are cut). */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Apply the migrations (default true); false gives an empty database. */
  migrate?: boolean;
}

export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `test_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  await admin((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  const url = withDatabase(await getTestServerUrl(), name);
  const knex = createDb(url);
  try {
    if (options.migrate !== false) await migrate(knex);
  } catch (err) {
    await knex.destroy();
    throw err;
  }
  let dropped = false;
  return {
    url,
    name,
    knex,
    async drop() {
      if (dropped) return;
      dropped = true;
      await knex.destroy();
      // WITH (FORCE) (PostgreSQL 13+) also ends connections a test left open.
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`));
    },
  };
}
