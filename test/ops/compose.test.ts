/**
 * docker-compose.yml is valid for docker-compose v1 and has the shape operations
 * rely on: health checks, named volumes, ordered start-up, a scalable worker and
 * configuration through the README's documented variables only. No Docker engine needed:
 * `docker-compose config` validates and normalizes the file offline.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { devServerArgs } from '../../wiring/temporal';
import { TEMPORAL_SERVER_VERSION } from '../../scripts/cluster';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * The exact image tags, each seen published (docs/operations.md "Compose image tags"
 * says where). Temporal's 1.32.1 is the 1.32 line `npm run cluster` builds from source
 * (TEMPORAL_SERVER_VERSION, a patch ahead): same schema versions and config template.
 */
const TEMPORAL_IMAGE_VERSION = '1.32.1';
const PINNED: Record<string, string> = {
  postgresql: 'postgres:16.15',
  temporal: 'haproxy:2.6.12',
  'temporal-schema': `temporalio/admin-tools:${TEMPORAL_IMAGE_VERSION}`,
  'temporal-setup': `temporalio/admin-tools:${TEMPORAL_IMAGE_VERSION}`,
  'temporal-ui': 'temporalio/ui:2.54.1',
  redis: 'redis:7.4.2',
  minio: 'minio/minio:RELEASE.2025-04-22T22-12-26Z',
  'minio-setup': 'minio/mc:RELEASE.2025-04-16T18-13-26Z',
};
const minor = (v: string) => v.split('.').slice(0, 2).join('.');
const FILE = path.join(ROOT, 'docker-compose.yml');
// Debian's python3 has PyYAML through the docker-compose package; a PATH python may not.
const SYSTEM_PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

type Service = {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | null>;
  healthcheck?: { test?: string[] | string };
  entrypoint?: string[] | string;
  depends_on?: Record<string, { condition: string }>;
  volumes?: Array<string | { source?: string; target?: string; type?: string }>;
  ports?: unknown[];
  restart?: string;
  container_name?: string;
};

function hasDockerCompose(): boolean {
  return spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
}

describe('ops: docker-compose.yml', function () {
  this.timeout(60_000);
  let services: Record<string, Service>;
  let volumes: Record<string, unknown>;

  before(function () {
    if (!hasDockerCompose()) {
      if (process.env.CI) throw new Error('docker-compose is not installed, and CI is set: install it (apt-get install docker-compose)');
      console.log('      (skipped: docker-compose is not installed; `apt-get install -y docker-compose` to run these)');
      this.skip();
    }
    // An empty environment for substitution: the defaults in the file must be enough.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
    execFileSync('docker-compose', ['-f', FILE, 'config', '-q'], { cwd: ROOT, env, stdio: 'pipe' });
    const yaml = execFileSync('docker-compose', ['-f', FILE, 'config'], { cwd: ROOT, env, encoding: 'utf8' });
    // v1 has no JSON output; its own dependency PyYAML turns the normalized YAML into JSON.
    const json = execFileSync(SYSTEM_PYTHON, ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {

      input: yaml,
      encoding: 'utf8',
    });
    const doc = JSON.parse(json) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
    services = doc.services;
    volumes = doc.volumes ?? {};
  });

  /** The Temporal server roles, as `npm run cluster` runs them: two of each but the worker role. */
  const ROLES: Record<string, string[]> = {
    history: ['temporal-history', 'temporal-history-2'],
    matching: ['temporal-matching', 'temporal-matching-2'],
    frontend: ['temporal-frontend', 'temporal-frontend-2'],
    worker: ['temporal-worker'],
  };
  const roleServices = () => Object.values(ROLES).flat();

  it('has every service of the production-like stack', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-schema', 'temporal-setup', ...roleServices(), 'temporal-ui', 'redis', 'minio', 'minio-setup', 'api', 'worker']) {
      assert.ok(services[name], `service ${name}`);
    }
    assert.match(services.postgresql.image!, /^postgres:16/);
    // The balancer is what TEMPORAL_ADDRESS names; no deprecated auto-setup image anywhere.
    assert.match(services.temporal.image!, /^haproxy:/);
    for (const [name, s] of Object.entries(services)) assert.doesNotMatch(s.image ?? '', /auto-setup/, name);
    assert.match(services['temporal-ui'].image!, /^temporalio\/ui:/);
    assert.match(services.redis.image!, /^redis:7/);
    assert.match(services['minio-setup'].image!, /^minio\/mc/);
  });

  it('pins every image to an exact tag, Temporal on the release line npm run cluster builds', () => {
    for (const [name, image] of Object.entries(PINNED)) assert.equal(services[name].image, image, name);
    assert.equal(minor(TEMPORAL_IMAGE_VERSION), minor(TEMPORAL_SERVER_VERSION));
    // No floating tag anywhere (latest, a bare major or major.minor) except the engine's own build.
    for (const [name, s] of Object.entries(services)) {
      if (s.build) continue;
      const tag = (s.image ?? '').split(':')[1] ?? 'latest';
      assert.ok(/^(\d+\.\d+\.\d+|\d+\.\d+|RELEASE\..+)$/.test(tag) && tag !== 'latest', `${name}: ${s.image}`);
      if (/^\d+\.\d+$/.test(tag)) assert.equal(s.image, PINNED[name], `${name}: a major.minor tag only where it is the release itself (postgres)`);
    }
  });

  it('health-checks the stateful services and the API (/readyz)', () => {
    for (const name of ['postgresql', 'temporal', 'redis', 'minio', 'api']) {
      assert.ok(services[name].healthcheck?.test, `${name} has a healthcheck`);
    }
    assert.match(JSON.stringify(services.postgresql.healthcheck!.test), /pg_isready/);
    // Healthy while haproxy has a live frontend; the one-shot setup then waits for SERVING.
    assert.match(JSON.stringify(services.temporal.healthcheck!.test), /\/dev\/tcp\/127\.0\.0\.1\/8404.*GET \/healthz/);
    const lb = fs.readFileSync(path.join(ROOT, 'scripts', 'cluster', 'haproxy-compose.cfg'), 'utf8');
    assert.match(lb, /monitor fail if \{ nbsrv\(temporal_frontends\) lt 1 \}/);
    assert.match(JSON.stringify(services['temporal-setup'].entrypoint), /temporal operator cluster health.*SERVING/);
    assert.match(JSON.stringify(services.api.healthcheck!.test), /\/readyz/);
  });

  it('keeps state in named volumes', () => {
    for (const v of ['postgres-data', 'redis-data', 'minio-data']) assert.ok(v in volumes, `volume ${v}`);
    const mounts = (s: Service) => (s.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source));
    assert.ok(mounts(services.postgresql).includes('postgres-data'));
    assert.ok(mounts(services.redis).includes('redis-data'));
    assert.ok(mounts(services.minio).includes('minio-data'));
  });

  it('Temporal: the release line of npm run cluster, one role per service, on the PostgreSQL service', () => {
    for (const [role, names] of Object.entries(ROLES)) {
      for (const name of names) {
        const s = services[name];
        assert.equal(s.image, `temporalio/server:${TEMPORAL_IMAGE_VERSION}`, `${name} image`);
        const env = s.environment!;
        assert.equal(env.TEMPORAL_SERVICES, role, `${name} runs only ${role}`);
        assert.equal(env.DB, 'postgres12');
        assert.equal(env.POSTGRES_SEEDS, 'postgresql');
        assert.equal(env.DBNAME, 'temporal');
        assert.equal(env.VISIBILITY_DBNAME, 'temporal_visibility');
        assert.equal(env.NUM_HISTORY_SHARDS, '8');
        assert.ok(env.DB_PORT && env.POSTGRES_USER && env.POSTGRES_PWD);
        assert.equal(s.depends_on?.['temporal-schema']?.condition, 'service_completed_successfully');
        // Ringpop needs each container's own address, not the loopback default.
        assert.match(JSON.stringify(s.entrypoint), /TEMPORAL_BROADCAST_ADDRESS=.*hostname -i/);
      }
    }
    const lb = fs.readFileSync(path.join(ROOT, 'scripts', 'cluster', 'haproxy-compose.cfg'), 'utf8');
    for (const fe of ROLES.frontend) assert.match(lb, new RegExp(`server \\S+ ${fe}:7233 check`), `haproxy balances ${fe}`);
    assert.match(lb, /mode tcp/);
    assert.equal(services['temporal-ui'].environment!.TEMPORAL_ADDRESS, 'temporal:7233');
  });

  it('Temporal schema: an explicit admin-tools step of that version, setting up and upgrading both databases', () => {
    const schema = services['temporal-schema'];
    assert.equal(schema.image, `temporalio/admin-tools:${TEMPORAL_IMAGE_VERSION}`);
    assert.equal(schema.restart, 'no');
    assert.equal(schema.depends_on?.postgresql?.condition, 'service_healthy');
    assert.equal(schema.environment!.SQL_PLUGIN, 'postgres12');
    assert.equal(schema.environment!.SQL_HOST, 'postgresql');
    const script = JSON.stringify(schema.entrypoint);
    assert.match(script, /temporal:temporal temporal_visibility:visibility/);
    assert.match(script, /setup-schema -v 0\.0/);
    assert.match(script, /update-schema -d .*\/etc\/temporal\/schema\/postgresql\/v12\/.*\/versioned/);
    assert.equal(services['temporal-setup'].image, `temporalio/admin-tools:${TEMPORAL_IMAGE_VERSION}`);
    assert.match(JSON.stringify(services['temporal-setup'].entrypoint), /namespace create/);
  });

  it('Temporal hands activities out eagerly, as the dev server of npm start and the tests does', () => {
    for (const name of roleServices()) {
      const env = services[name].environment!;
      const mount = (services[name].volumes ?? [])
        .map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v))
        .find((v) => v.target === env.DYNAMIC_CONFIG_FILE_PATH);
      assert.ok(mount, `${name}: the dynamic config file the server is told to read is mounted there`);
      const config = fs.readFileSync(path.resolve(ROOT, mount.source ?? ''), 'utf8');
      assert.match(config, /^system\.enableActivityEagerExecution:\n\s+- value: true$/m);
    }
    assert.ok(
      devServerArgs({ port: 7233, namespace: 'default' }).join(' ').includes('--dynamic-config-value system.enableActivityEagerExecution=true'),
    );
  });

  it('api and worker: one image, their npm commands, started after healthy dependencies', () => {
    const { api, worker } = services;
    assert.ok(api.build && worker.build);
    assert.equal(api.image, worker.image);
    assert.deepEqual(api.command, ['npm', 'run', 'api']);
    assert.deepEqual(worker.command, ['npm', 'run', 'worker']);
    for (const s of [api, worker]) {
      assert.equal(s.depends_on?.postgresql?.condition, 'service_healthy');
      assert.equal(s.depends_on?.temporal?.condition, 'service_healthy');
      assert.equal(s.depends_on?.['temporal-setup']?.condition, 'service_completed_successfully');
      assert.equal(s.depends_on?.redis?.condition, 'service_healthy');
      assert.equal(s.depends_on?.['minio-setup']?.condition, 'service_completed_successfully');
      assert.ok(s.restart && s.restart !== 'no', 'restarts');
    }
  });

  it('the worker scales: no container name, no host ports', () => {
    assert.equal(services.worker.container_name, undefined);
    assert.equal(services.worker.ports, undefined);
  });

  it('configures the engine only through the variables of the README configuration table', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Tests'));
    const documented = new Set([...table.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
    documented.add('NODE_ENV');
    for (const name of ['api', 'worker']) {
      for (const key of Object.keys(services[name].environment ?? {})) {
        assert.ok(documented.has(key), `${name}: ${key} is not a documented variable`);
      }
    }
    const env = services.api.environment!;
    assert.match(env.DATABASE_URL!, /^postgres:\/\/.+@postgresql:5432\//);
    assert.equal(env.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(env.REDIS_URL, 'redis://redis:6379');
    assert.equal(env.S3_ENDPOINT, 'http://minio:9000');
    assert.equal(env.S3_FORCE_PATH_STYLE, 'true');
    // Secrets pass through from the host: empty (offline providers, local key) when the host has none.
    for (const k of ['GROQ_API_KEY', 'OPENAI_API_KEY', 'RUNWARE_API_KEY', 'CLERK_SECRET_KEY', 'CLERK_JWT_KEY']) {
      assert.equal(env[k], '', `${k} defaults to empty`);
    }
  });

  it('passes host secrets through', () => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', GROQ_API_KEY: 'gsk_from_host' };
    const yaml = execFileSync('docker-compose', ['-f', FILE, 'config'], { cwd: ROOT, env, encoding: 'utf8' });
    assert.match(yaml, /GROQ_API_KEY: gsk_from_host/);
  });

  it('Dockerfile: node 20 slim, multi-stage, production deps, non-root, no Temporal CLI download', () => {
    const df = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    assert.ok((df.match(/^FROM node:20-bookworm-slim/gm) ?? []).length >= 2, 'multi-stage on node:20-bookworm-slim');
    assert.match(df, /npm ci --omit=dev/);
    assert.match(df, /ENV TEMPORAL_ADDRESS=/);
    assert.match(df, /NODE_ENV=production/);
    assert.match(df, /^USER node$/m);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    assert.ok(pkg.dependencies.tsx, 'tsx is a runtime dependency, so --omit=dev keeps it');
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'data', '.tools', 'test-output']) assert.ok(ignore.includes(entry), `.dockerignore ${entry}`);
  });
});
