/**
 * A real S3-compatible server (@20minutes/s3rver) in its own child process, so the
 * storage code talks HTTP to a separate process just as it would to S3, and a crash
 * or event-loop stall in the server cannot hide inside the test process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { S3Client, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { onGlobalTeardown } from './global';

const ROOT = path.resolve(__dirname, '..', '..');

/** s3rver's built-in account. */
const ACCESS_KEY = 'S3RVER';
const SECRET_KEY = 'S3RVER';

// Plain CommonJS run by `node -e`: no TypeScript loader needed in the child. s3rver's
// CreateBucket fails the SDK's signature check, so the bucket is made at start-up.
const SERVER_SCRIPT = `
const S3rver = require('@20minutes/s3rver');
const [dir, bucket, port] = process.argv.slice(1);
const server = new S3rver({ address: '127.0.0.1', port: Number(port || 0), silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
server.run().then((addr) => { process.stdout.write(JSON.stringify({ port: addr.port }) + '\\n'); },
  (err) => { console.error(err); process.exit(1); });
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent going away (even by SIGKILL) closes stdin: do not outlive it.
process.stdin.on('end', stop);
process.stdin.resume();
`;

export interface S3TestServer {
  endpoint: string;
  bucket: string;
  /** S3_* and AWS_* variables for `createTestStack(env)` or `loadConfig`. */
  env: Record<string, string>;
  /** Every key in the bucket (under `prefix`), as the server lists it. */
  list(prefix?: string): Promise<string[]>;
  /** Stops the server but keeps its files (an outage); `resume` starts it again on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * s3rver computes the signature of a bucket-level request (ListObjectsV2,
 * DeleteObjects) over `/bucket` while the SDK sends and signs `/bucket/`, so it
 * refuses them ("SignatureDoesNotMatch"); AWS and MinIO accept both. Sending
 * `/bucket` instead makes the two agree. Object requests are untouched.
 */
export function s3rverCompatible(client: S3Client): S3Client {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { path?: string };
      if (typeof request.path === 'string' && /^\/[^/]+\/$/.test(request.path)) request.path = request.path.slice(0, -1);
      return next(args);
    },
    { step: 'build', name: 's3rverBucketPath' },
  );
  return client;
}

let seq = 0;

export async function startS3Server(): Promise<S3TestServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const bucket = `test-${process.pid}-${++seq}`;
  const spawnServer = async (atPort = 0) => {
    const c = spawn(process.execPath, ['-e', SERVER_SCRIPT, dir, bucket, String(atPort)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      return { child: c, port: await readPort(c) };
    } catch (err) {
      c.kill('SIGKILL');
      throw err;
    }
  };
  let child: ChildProcess;
  let port: number;
  try {
    ({ child, port } = await spawnServer());
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await kill();
      await fs.rm(dir, { recursive: true, force: true });
    })());
  onGlobalTeardown(stop);
  const lister = s3rverCompatible(
    new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } }),
  );
  const list = async (prefix?: string) => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await lister.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  };
  return {
    endpoint,
    bucket,
    list,
    env: {
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: SECRET_KEY,
    },
    pause: kill,
    async resume() {
      ({ child } = await spawnServer(port));
    },
    stop,
  };
}

function readPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('s3rver did not start within 15 s')), 15_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited before listening (code ${code}, signal ${signal})`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
  });
}
