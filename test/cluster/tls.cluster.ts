/**
 * The Temporal Cloud-style settings of lib/temporal-connection.ts against a real TLS
 * frontend: the cluster of `npm run cluster` with TLS on every hop and client
 * certificates required (mTLS), certificates made here with openssl. The engine's API and
 * worker, configured only through TEMPORAL_TLS_CA / _CERT / _KEY / _SERVER_NAME, make a
 * book through haproxy; a client without a certificate, one with a certificate from
 * another CA, one that does not trust the server's CA and a plain-text one are refused.
 *
 * Part of `npm run test:cluster` (needs the Go-built server; a minute or two).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { startCluster, clusterPorts, type Cluster } from '../../scripts/cluster';
import { temporalConnectionOptions } from '../../lib/temporal-connection';
import { createDb } from '../../db/knex';
import { ensureDevKeys } from '../../lib/dev-keys';
import { signSessionToken } from '../../lib/tokens';
import { api } from '../helpers/http';
import { sleep } from '../helpers/fault';
import net from 'node:net';

/** A CA, a server certificate for localhost/127.0.0.1 and a client certificate, all by openssl. */
function makeCertificates(dir: string, prefix = ''): Record<'ca' | 'caKey' | 'server' | 'serverKey' | 'client' | 'clientKey', string> {
  const f = (name: string) => path.join(dir, `${prefix}${name}`);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ebook test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  const leaf = (name: string, subject: string, ext: string) => {
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    execFileSync('bash', ['-c', `printf '%s\\n' "${ext}" > ${f(`${name}.ext`)}`]);
    ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`));
  };
  // Servers and internode peers present this one (it is also their client certificate inside the cluster).
  leaf('server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth');
  leaf('client', '/CN=ebook-engine', 'extendedKeyUsage=clientAuth');
  return { ca: f('ca.pem'), caKey: f('ca.key'), server: f('server.pem'), serverKey: f('server.key'), client: f('client.pem'), clientKey: f('client.key') };
}

async function freePortBase(from: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let base = from; base <= 31600; base += 100) {
    const p = clusterPorts(base);
    const all = [p.apiBalancer, ...p.apis, ...p.workerMetrics, p.postgres, p.balancer, p.balancerStats,
      ...[...p.frontend, ...p.history, ...p.matching, ...p.worker].flatMap((x) => [x.grpc, x.membership, x.http, x.metrics])];
    if ((await Promise.all(all.map(free))).every(Boolean)) return base;
  }
  throw new Error('no free block of ports');
}

describe('cluster: mTLS between the engine and a TLS frontend', function () {
  this.timeout(600_000);
  let tmp: string;
  let cluster: Cluster | undefined;
  let certs: ReturnType<typeof makeCertificates>;
  let other: ReturnType<typeof makeCertificates>;
  let tlsEnv: Record<string, string>;

  before(async function () {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ebook-cluster-tls-'));
    await fs.chmod(tmp, 0o755);
    const certDir = path.join(tmp, 'certs');
    await fs.mkdir(certDir);
    certs = makeCertificates(certDir);
    // A second, unrelated CA with its own client certificate: must be refused.
    other = makeCertificates(certDir, 'other-');
    tlsEnv = {
      TEMPORAL_TLS_CA: certs.ca,
      TEMPORAL_TLS_CERT: certs.client,
      TEMPORAL_TLS_KEY: certs.clientKey,
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    };
    cluster = await startCluster({
      dir: tmp,
      portBase: await freePortBase(26000 + (process.pid % 20) * 100),
      workers: 1,
      apis: 1,
      databaseUrl: undefined,
      engine: true,
      supervise: false,
      postgresFlags: ['-c', 'fsync=off'],
      tls: { caFile: certs.ca, serverCertFile: certs.server, serverKeyFile: certs.serverKey, requireClientAuth: true },
      engineEnv: { ...tlsEnv, LOG_LEVEL: 'warn', TEMPORAL_TASK_QUEUE: 'ebooks-cluster-tls' },
      log: () => undefined,
    });
  });

  after(async function () {
    await cluster?.stop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  /** Whether a connection with these options gets an answer from the frontend (through haproxy). */
  const answers = async (options: Parameters<typeof Connection.connect>[0]): Promise<true | string> => {
    let conn: Connection | undefined;
    try {
      conn = await Connection.connect({ ...options, connectTimeout: 5000 });
      await conn.workflowService.getSystemInfo({}, );
      return true;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await conn?.close().catch(() => undefined);
    }
  };

  it('the engine settings (CA, client certificate, server name) connect through the balancer', async () => {
    const options = temporalConnectionOptions({ TEMPORAL_ADDRESS: cluster!.temporalAddress, ...tlsEnv });
    assert.equal(await answers(options), true);
  });

  it('refuses plain text, a client without a certificate, a certificate of another CA, and an untrusted server', async () => {
    const address = cluster!.temporalAddress;
    const refused = async (what: string, env: Record<string, string>) => {
      const result = await answers(temporalConnectionOptions({ TEMPORAL_ADDRESS: address, ...env }));
      assert.notEqual(result, true, `${what} was let in`);
    };
    await refused('plain text', {});
    await refused('no client certificate', { TEMPORAL_TLS_CA: certs.ca, TEMPORAL_TLS_SERVER_NAME: 'localhost' });
    await refused('a client certificate of another CA', {
      ...tlsEnv,
      TEMPORAL_TLS_CERT: other.client,
      TEMPORAL_TLS_KEY: other.clientKey,
    });
    await refused('a server not signed by the CA the client trusts', { ...tlsEnv, TEMPORAL_TLS_CA: other.ca });
  });

  it('a book is made end to end: API and worker talk to Temporal over mTLS only', async () => {
    const c = cluster!;
    const knex = createDb(c.databaseUrl);
    try {
      const token = await signSessionToken(ensureDevKeys(c.engineEnv.DATA_DIR!), { userId: 'tls-user', ttlSeconds: 3600 });
      const res = await api(c.apiUrl, 'POST', '/v1/ebooks', { token, body: { prompt: 'A locksmith and a shy key', chapterCount: 1 } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const deadline = Date.now() + 180_000;
      let row: { status: string } | undefined;
      while (Date.now() < deadline) {
        row = await knex('memory_books').where({ id: res.body.id }).first('status');
        if (row?.status === 'completed' || row?.status === 'failed') break;
        await sleep(500);
      }
      assert.equal(row?.status, 'completed');
    } finally {
      await knex.destroy();
    }
  });
});
