/**
 * A real S3-compatible server (@20minutes/s3rver) in its own child process, so the
 * storage code talks HTTP to a separate process just as it would to S3, and a crash
 * or event-loop stall in the server cannot hide inside the test process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { onGlobalTeardown } from './global';

const ROOT = path.resolve(__dirname, '..', '..');

/** s3rver's built-in account. */
const ACCESS_KEY = 'S3RVER';
const SECRET_KEY = 'S3RVER';

// Plain CommonJS run by `node -e`: no TypeScript loader needed in the child. s3rver's
// CreateBucket fails the SDK's signature check, so the bucket is made at start-up.
const SERVER_SCRIPT = `
const S3rver = require('@20minutes/s3rver');
const [dir, bucket] = process.argv.slice(1);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
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
  stop(): Promise<void>;
}

let seq = 0;

export async function startS3Server(): Promise<S3TestServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const bucket = `test-${process.pid}-${++seq}`;
  const child = spawn(process.execPath, ['-e', SERVER_SCRIPT, dir, bucket], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let port: number;
  try {
    port = await readPort(child);
  } catch (err) {
    child.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await fs.rm(dir, { recursive: true, force: true });
    })());
  onGlobalTeardown(stop);
  return {
    endpoint,
    bucket,
    env: {
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: SECRET_KEY,
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
