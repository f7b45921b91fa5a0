/**
 * TEMPORAL_API_KEY (Temporal Cloud's API-key auth) against a server that checks it.
 * The dev server ignores credentials, so in front of it runs a gRPC gateway made here:
 * HTTP/2 over TLS (a certificate made with openssl), answering every call without
 * `authorization: Bearer <key>` and the `temporal-namespace` header with gRPC status 16
 * (UNAUTHENTICATED), as Cloud does, and forwarding the others to the dev server.
 * The engine's own options (lib/temporal-connection.ts) connect a client and a worker
 * connection through it; a wrong key and no key are refused.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { temporalConnectionOptions } from '../../lib/temporal-connection';
import { getTemporalEnv } from '../helpers/stack';

const KEY = 'tmprl-test-key-6f1d2c';
const NAMESPACE = 'default';

/** A CA and a server certificate for localhost, by the openssl CLI. */
function makeCertificates(dir: string) {
  const f = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('ca.key'));
  ssl('req', '-x509', '-new', '-key', f('ca.key'), '-days', '2', '-subj', '/CN=api-key test CA', '-out', f('ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('server.key'));
  ssl('req', '-new', '-key', f('server.key'), '-subj', '/CN=localhost', '-out', f('server.csr'));
  fs.writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', f('server.ext'), '-out', f('server.pem'));
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

/** What the gateway saw of each call: its method and the two credentials headers. */
interface SeenCall {
  path: string;
  authorization?: string;
  namespace?: string;
  allowed: boolean;
}

/** The checking gateway: TLS + HTTP/2 in, bearer and namespace checked, plain HTTP/2 out. */
async function apiKeyGateway(certs: { cert: string; key: string }, upstream: string) {
  const seen: SeenCall[] = [];
  const upstreamSession = http2.connect(`http://${upstream}`);
  upstreamSession.on('error', () => undefined);
  const sockets = new Set<net.Socket>();
  const server = http2.createSecureServer({ key: fs.readFileSync(certs.key), cert: fs.readFileSync(certs.cert) });
  server.on('connection', (s: net.Socket) => sockets.add(s.once('close', () => sockets.delete(s))));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const authorization = headers.authorization as string | undefined;
    const namespace = headers['temporal-namespace'] as string | undefined;
    const allowed = authorization === `Bearer ${KEY}` && namespace === NAMESPACE;
    seen.push({ path: String(headers[':path']), authorization, namespace, allowed });
    if (!allowed) {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'Request unauthorized.' },
        { endStream: true },
      );
      return;
    }
    const forward: http2.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':') && k !== 'host') forward[k] = v;
    const req = upstreamSession.request({ ':method': 'POST', ':path': headers[':path'], ...forward });
    req.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.pipe(req);
    let trailers: http2.OutgoingHttpHeaders = {};
    req.on('trailers', (t) => {
      trailers = { ...t };
    });
    req.on('response', (h) => {
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') || k === ':status') out[k] = v;
      if (h['grpc-status'] !== undefined) {
        // Trailers-only answer (an error with no message body).
        stream.respond(out, { endStream: true });
        return;
      }
      stream.respond(out, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      req.pipe(stream);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    seen,
    async close() {
      for (const s of sockets) s.destroy();
      upstreamSession.close();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('ops: TEMPORAL_API_KEY against a server that checks the key', function () {
  this.timeout(120_000);
  let dir: string;
  let certs: ReturnType<typeof makeCertificates>;
  let gateway: Awaited<ReturnType<typeof apiKeyGateway>>;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-api-key-'));
    certs = makeCertificates(dir);
    gateway = await apiKeyGateway(certs, (await getTemporalEnv()).address);
  });
  after(async () => {
    await gateway?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = (key?: string) => ({
    TEMPORAL_ADDRESS: gateway.address,
    TEMPORAL_NAMESPACE: NAMESPACE,
    TEMPORAL_TLS_CA: certs.ca,
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
    ...(key === undefined ? {} : { TEMPORAL_API_KEY: key }),
  });

  /** A call that needs the server: lists the namespace's workflows (authorized per namespace on Cloud). */
  async function callWith(opts: ReturnType<typeof temporalConnectionOptions>) {
    const conn = await Connection.connect({ ...opts, connectTimeout: 5000 });
    try {
      return await conn.workflowService.describeNamespace({ namespace: NAMESPACE });
    } finally {
      await conn.close();
    }
  }

  it('with the key: a client and a worker connection get through, every call carrying the bearer key and namespace', async () => {
    const opts = temporalConnectionOptions(env(KEY));
    assert.equal(opts.apiKey, KEY);
    assert.ok(opts.tls, 'TLS is on with an API key');
    const before = gateway.seen.length;
    const ns = await callWith(opts);
    assert.equal(ns.namespaceInfo?.name, NAMESPACE);
    const native = await NativeConnection.connect(opts);
    await native.close();
    const calls = gateway.seen.slice(before);
    assert.ok(calls.some((c) => c.path.endsWith('/DescribeNamespace')), JSON.stringify(calls));
    assert.ok(calls.some((c) => c.path.endsWith('/GetSystemInfo')), 'the worker connection called through too');
    assert.deepEqual(calls.filter((c) => !c.allowed), [], 'no call without the key');
  });

  it('with a wrong key: refused as unauthenticated', async () => {
    await assert.rejects(callWith(temporalConnectionOptions(env('not-the-key'))), (err: Error & { cause?: { code?: number; details?: string } }) => {
      // Connection.connect's first call fails; its cause is the gateway's gRPC answer.
      assert.equal(err.cause?.code, 16, `UNAUTHENTICATED: ${String(err)} ${JSON.stringify(err.cause)}`);
      assert.match(String(err.cause?.details), /unauthorized/i);
      return true;
    });
    assert.ok(gateway.seen.some((c) => c.authorization === 'Bearer not-the-key' && !c.allowed));
  });

  it('with no key (TLS alone): refused', async () => {
    await assert.rejects(callWith(temporalConnectionOptions({ ...env(), TEMPORAL_TLS: 'true' })), (err: Error & { cause?: { code?: number } }) => {
      assert.equal(err.cause?.code, 16, String(err));
      return true;
    });
    assert.ok(gateway.seen.some((c) => c.authorization === undefined && !c.allowed));
  });
});
