/**
 * lib/temporal-connection.ts: connection options from the environment only, and
 * a real client + worker connection through TLS and mTLS (a TLS-terminating
 * proxy in front of the test dev server, since `start-dev` has no TLS flags).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError } from '../../lib/config';
import {
  describeTemporalConnection,
  temporalConnectionOptions,
  temporalNamespace,
} from '../../lib/temporal-connection';
import { getTemporalEnv } from '../helpers/stack';

interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A throwaway CA with one server (localhost) and one client certificate, made by the openssl CLI. */
function makePki(): Pki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-tls-'));
  const f = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('ca.key'));
  ssl('req', '-x509', '-new', '-key', f('ca.key'), '-days', '2', '-subj', '/CN=ebook test CA', '-out', f('ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const leaf = (name: string, cn: string, ext: string) => {
    ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f(`${name}.key`));
    ssl('req', '-new', '-key', f(`${name}.key`), '-subj', `/CN=${cn}`, '-out', f(`${name}.csr`));
    fs.writeFileSync(f(`${name}.ext`), ext);
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`));
  };
  leaf('server', 'localhost',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  leaf('client', 'ebook-worker',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:ebook-worker\n');
  return {
    dir,
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}

/** Terminates TLS (optionally requiring a client certificate) and pipes to a plain gRPC server. */
async function tlsProxy(pki: Pki, upstream: string, requireClientCert: boolean) {
  const [host, port] = [upstream.slice(0, upstream.lastIndexOf(':')), Number(upstream.slice(upstream.lastIndexOf(':') + 1))];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    {
      key: fs.readFileSync(pki.serverKey),
      cert: fs.readFileSync(pki.serverCert),
      ca: [fs.readFileSync(pki.ca)],
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
      ALPNProtocols: ['h2'],
    },
    (client) => {
      const up = net.connect(port, host);
      sockets.add(client).add(up);
      client.pipe(up).pipe(client);
      const end = () => {
        client.destroy();
        up.destroy();
      };
      client.on('error', end).on('close', end);
      up.on('error', end).on('close', end);
    },
  );
  server.on('tlsClientError', () => undefined); // a refused handshake is the expected outcome of one test
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port: proxyPort } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${proxyPort}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

function configError(variable: string, fragment?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.variable, variable);
    if (fragment) assert.match(err.message, fragment);
    return true;
  };
}

describe('ops: Temporal connection options from the environment', function () {
  let pki: Pki;
  before(() => {
    pki = makePki();
  });
  after(() => fs.rmSync(pki.dir, { recursive: true, force: true }));

  it('defaults to the embedded dev server, plain gRPC', () => {
    assert.deepEqual(temporalConnectionOptions({}), { address: '127.0.0.1:7233' });
    assert.deepEqual(temporalConnectionOptions({ TEMPORAL_PORT: '7300', TEMPORAL_ADDRESS: '  ' }), { address: '127.0.0.1:7300' });
    assert.equal(temporalNamespace({}), 'default');
    assert.equal(temporalNamespace({ TEMPORAL_NAMESPACE: 'books.a1b2c' }), 'books.a1b2c');
  });

  it('uses TEMPORAL_ADDRESS as is and rejects a malformed one', () => {
    assert.deepEqual(temporalConnectionOptions({ TEMPORAL_ADDRESS: 'temporal:7233' }), { address: 'temporal:7233' });
    assert.throws(() => temporalConnectionOptions({ TEMPORAL_ADDRESS: 'http://temporal' }), configError('TEMPORAL_ADDRESS'));
  });

  it('builds mTLS from certificate and key files, with CA and server name', () => {
    const opts = temporalConnectionOptions({
      TEMPORAL_ADDRESS: 'books.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'books.a1b2c',
      TEMPORAL_TLS_CERT: pki.clientCert,
      TEMPORAL_TLS_KEY: pki.clientKey,
      TEMPORAL_TLS_CA: pki.ca,
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    });
    assert.equal(opts.address, 'books.a1b2c.tmprl.cloud:7233');
    assert.ok(opts.tls && opts.tls !== true);
    assert.deepEqual(opts.tls.clientCertPair!.crt, fs.readFileSync(pki.clientCert));
    assert.deepEqual(opts.tls.clientCertPair!.key, fs.readFileSync(pki.clientKey));
    assert.deepEqual(opts.tls.serverRootCACertificate, fs.readFileSync(pki.ca));
    assert.equal(opts.tls.serverNameOverride, 'localhost');
    assert.equal(opts.apiKey, undefined);
    assert.equal(opts.metadata, undefined);
    assert.deepEqual(describeTemporalConnection(opts), { address: 'books.a1b2c.tmprl.cloud:7233', security: 'mtls' });
  });

  it('takes the certificate and key as PEM text too (escaped newlines restored)', () => {
    const crt = fs.readFileSync(pki.clientCert, 'utf8');
    const key = fs.readFileSync(pki.clientKey, 'utf8');
    const opts = temporalConnectionOptions({
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_TLS_CERT_DATA: crt.replace(/\n/g, '\\n'),
      TEMPORAL_TLS_KEY_DATA: key,
    });
    assert.ok(opts.tls && opts.tls !== true);
    assert.equal(opts.tls.clientCertPair!.crt.toString('utf8'), crt);
    assert.equal(opts.tls.clientCertPair!.key.toString('utf8'), key);
  });

  it('builds Temporal Cloud API-key options: TLS on, apiKey, temporal-namespace header', () => {
    const opts = temporalConnectionOptions({
      TEMPORAL_ADDRESS: 'us-east-1.aws.api.temporal.io:7233',
      TEMPORAL_NAMESPACE: 'books.a1b2c',
      TEMPORAL_API_KEY: 'secret-api-key-123',
    });
    assert.deepEqual(opts, {
      address: 'us-east-1.aws.api.temporal.io:7233',
      tls: true,
      apiKey: 'secret-api-key-123',
      metadata: { 'temporal-namespace': 'books.a1b2c' },
    });
    const described = describeTemporalConnection(opts);
    assert.deepEqual(described, { address: 'us-east-1.aws.api.temporal.io:7233', security: 'api-key' });
    assert.doesNotMatch(JSON.stringify(described), /secret-api-key/);
  });

  it('TEMPORAL_TLS=true alone means server-side TLS with the system roots', () => {
    assert.deepEqual(temporalConnectionOptions({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_TLS: 'true' }), {
      address: 'temporal:7233',
      tls: true,
    });
    assert.throws(() => temporalConnectionOptions({ TEMPORAL_ADDRESS: 't:1', TEMPORAL_TLS: 'yes please' }), configError('TEMPORAL_TLS'));
  });

  it('fails fast, naming the variable, on a bad combination or an unreadable file', () => {
    const base = { TEMPORAL_ADDRESS: 'temporal:7233' };
    assert.throws(() => temporalConnectionOptions({ ...base, TEMPORAL_TLS_CERT: pki.clientCert }), configError('TEMPORAL_TLS_KEY'));
    assert.throws(() => temporalConnectionOptions({ ...base, TEMPORAL_TLS_KEY: pki.clientKey }), configError('TEMPORAL_TLS_CERT'));
    assert.throws(
      () => temporalConnectionOptions({ ...base, TEMPORAL_TLS_CERT: pki.clientCert, TEMPORAL_TLS_KEY: pki.clientKey, TEMPORAL_API_KEY: 'k' }),
      configError('TEMPORAL_API_KEY', /not both/),
    );
    assert.throws(
      () => temporalConnectionOptions({ ...base, TEMPORAL_TLS_CERT: '/nonexistent/client.pem', TEMPORAL_TLS_KEY: pki.clientKey }),
      configError('TEMPORAL_TLS_CERT', /cannot read \/nonexistent\/client\.pem \(ENOENT\)/),
    );
    assert.throws(
      () => temporalConnectionOptions({ ...base, TEMPORAL_TLS_CERT: pki.clientKey, TEMPORAL_TLS_KEY: pki.clientKey }),
      configError('TEMPORAL_TLS_CERT', /not a PEM certificate/),
    );
    assert.throws(
      () => temporalConnectionOptions({ ...base, TEMPORAL_TLS_CERT: pki.clientCert, TEMPORAL_TLS_KEY: pki.clientCert }),
      configError('TEMPORAL_TLS_KEY', /not a PEM private key/),
    );
    assert.throws(
      () =>
        temporalConnectionOptions({
          ...base,
          TEMPORAL_TLS_CERT: pki.clientCert,
          TEMPORAL_TLS_CERT_DATA: fs.readFileSync(pki.clientCert, 'utf8'),
          TEMPORAL_TLS_KEY: pki.clientKey,
        }),
      configError('TEMPORAL_TLS_CERT', /not both/),
    );
    assert.throws(() => temporalConnectionOptions({ ...base, TEMPORAL_TLS_CA: '/nonexistent/ca.pem' }), configError('TEMPORAL_TLS_CA'));
    assert.throws(() => temporalConnectionOptions({ TEMPORAL_API_KEY: 'k' }), configError('TEMPORAL_API_KEY', /needs TEMPORAL_ADDRESS/));
    assert.throws(() => temporalConnectionOptions({ ...base, TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' }), configError('TEMPORAL_TLS'));
  });

  it('never puts a secret in an error message', () => {
    const secretKey = '-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----';
    try {
      temporalConnectionOptions({
        TEMPORAL_ADDRESS: 'temporal:7233',
        TEMPORAL_TLS_CERT_DATA: 'TOPSECRETCERTMATERIAL',
        TEMPORAL_TLS_KEY_DATA: secretKey,
      });
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.doesNotMatch(err.message, /TOPSECRET/);
    }
    try {
      temporalConnectionOptions({ TEMPORAL_API_KEY: 'TOPSECRETAPIKEY' });
      assert.fail('expected an error');
    } catch (err) {
      assert.doesNotMatch((err as Error).message, /TOPSECRET/);
    }
  });

  describe('against a real server behind TLS', function () {
    this.timeout(120_000);
    let upstream: string;
    let mtlsProxy: Awaited<ReturnType<typeof tlsProxy>>;
    let tlsOnlyProxy: Awaited<ReturnType<typeof tlsProxy>>;

    before(async () => {
      upstream = (await getTemporalEnv()).address;
      mtlsProxy = await tlsProxy(pki, upstream, true);
      tlsOnlyProxy = await tlsProxy(pki, upstream, false);
    });
    after(async () => {
      await mtlsProxy?.close();
      await tlsOnlyProxy?.close();
    });

    const mtlsEnv = () => ({
      TEMPORAL_ADDRESS: mtlsProxy.address,
      TEMPORAL_TLS_CERT: pki.clientCert,
      TEMPORAL_TLS_KEY: pki.clientKey,
      TEMPORAL_TLS_CA: pki.ca,
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    });

    it('a client Connection and a worker NativeConnection connect with mTLS options', async () => {
      const opts = temporalConnectionOptions(mtlsEnv());
      const conn = await Connection.connect(opts);
      try {
        const info = await conn.workflowService.getSystemInfo({});
        assert.ok(info.serverVersion, 'the server answered through the mTLS proxy');
      } finally {
        await conn.close();
      }
      const native = await NativeConnection.connect(opts);
      await native.close();
    });

    it('the same server refuses a client without its certificate', async () => {
      const opts = temporalConnectionOptions({ ...mtlsEnv(), TEMPORAL_TLS_CERT: '', TEMPORAL_TLS_KEY: '' });
      await assert.rejects(async () => {
        const conn = await Connection.connect({ ...opts, connectTimeout: 3000 });
        try {
          await conn.workflowService.getSystemInfo({});
        } finally {
          await conn.close();
        }
      });
    });

    it('API-key options connect over TLS (the dev server ignores the key)', async () => {
      const opts = temporalConnectionOptions({
        TEMPORAL_ADDRESS: tlsOnlyProxy.address,
        TEMPORAL_API_KEY: 'test-key',
        TEMPORAL_TLS_CA: pki.ca,
        TEMPORAL_TLS_SERVER_NAME: 'localhost',
      });
      assert.equal(opts.apiKey, 'test-key');
      const conn = await Connection.connect(opts);
      try {
        const info = await conn.workflowService.getSystemInfo({});
        assert.ok(info.serverVersion);
      } finally {
        await conn.close();
      }
    });
  });
});
