/**
 * S3 storage against a real S3-compatible server in its own process (s3rver), through
 * the same factory and config the engine uses.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createStorage } from '../../activities/storage';
import { MULTIPART_THRESHOLD, type S3Storage } from '../../activities/storage/s3';
import type { Storage } from '../../activities/storage/types';
import { ConfigError, loadConfig } from '../../lib/config';
import { startS3Server, type S3TestServer } from '../helpers/s3';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function drain(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('S3 storage (s3rver in a child process)', function () {
  let s3: S3TestServer;
  let storage: Storage;
  let raw: S3Client;
  const prefix = `t-${randomUUID()}`;

  before(async () => {
    s3 = await startS3Server();
    storage = createStorage(loadConfig({ DATA_DIR: '/nonexistent', ...s3.env }));
    raw = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY },
    });
  });

  after(async () => {
    raw?.destroy();
    await s3?.stop();
  });

  it('is chosen by S3_BUCKET; ping passes for the bucket and fails for a missing one', async () => {
    assert.equal(storage.kind, 's3');
    await storage.ping();
    const wrong = createStorage(loadConfig({ DATA_DIR: '/tmp', ...s3.env, S3_BUCKET: 'no-such-bucket' }));
    await assert.rejects(wrong.ping());
  });

  it('falls back to local files without S3_BUCKET, and rejects a bad S3_FORCE_PATH_STYLE', () => {
    assert.equal(createStorage(loadConfig({ DATA_DIR: '/tmp/x' })).kind, 'local');
    assert.throws(
      () => loadConfig({ S3_BUCKET: 'b-1', S3_FORCE_PATH_STYLE: 'yes' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'S3_FORCE_PATH_STYLE',
    );
    const c = loadConfig({ S3_BUCKET: 'b-1', S3_FORCE_PATH_STYLE: 'false' });
    assert.deepEqual(c.s3, { bucket: 'b-1', endpoint: undefined, region: 'us-east-1', forcePathStyle: false, credentials: undefined });
  });

  it('round-trips put/get/head/stream/copy/delete byte-identical', async () => {
    const body = randomBytes(300_000);
    const key = `${prefix}/a/chapter-01.png`;
    const put = await storage.put(key, body);
    assert.deepEqual(put, { key, bytes: body.length, sha256: sha(body), contentType: 'image/png' });
    assert.ok((await storage.get(key)).equals(body));
    assert.deepEqual(await storage.head(key), { bytes: body.length, contentType: 'image/png' });
    assert.ok((await drain(await storage.stream(key))).equals(body));

    const copy = await storage.copy(key, `${prefix}/b/copy.png`);
    assert.deepEqual(copy, { key: `${prefix}/b/copy.png`, bytes: body.length, sha256: sha(body), contentType: 'image/png' });
    assert.ok((await storage.get(copy.key)).equals(body));

    await storage.delete(key);
    assert.equal(await storage.head(key), undefined);
    await storage.delete(key); // idempotent
    assert.ok((await storage.get(copy.key)).equals(body), 'the copy is independent of its source');
  });

  it('stores an empty body', async () => {
    const key = `${prefix}/empty.txt`;
    await storage.put(key, Buffer.alloc(0));
    assert.equal((await storage.get(key)).length, 0);
    assert.deepEqual(await storage.head(key), { bytes: 0, contentType: 'text/plain; charset=utf-8' });
  });

  it('answers undefined for a missing key on head, and rejects get/stream/copy', async () => {
    assert.equal(await storage.head(`${prefix}/missing.pdf`), undefined);
    await assert.rejects(storage.get(`${prefix}/missing.pdf`));
    await assert.rejects(storage.stream(`${prefix}/missing.pdf`));
    await assert.rejects(storage.copy(`${prefix}/missing.pdf`, `${prefix}/x.pdf`));
  });

  it('refuses keys that escape their prefix', async () => {
    await assert.rejects(storage.put('a/../b.txt', Buffer.from('x')), /invalid storage key/);
    await assert.rejects(storage.get('a//b.txt'), /invalid storage key/);
  });

  it('sets content types, and an attachment disposition on PDF and EPUB', async () => {
    const cases: Array<[string, string, string | undefined]> = [
      ['book.pdf', 'application/pdf', 'attachment; filename="book.pdf"'],
      ['book.epub', 'application/epub+zip', 'attachment; filename="book.epub"'],
      ['cover.jpg', 'image/jpeg', undefined],
      ['outline.json', 'application/json', undefined],
      ['blob.bin', 'application/octet-stream', undefined],
    ];
    for (const [name, type, disposition] of cases) {
      const key = `${prefix}/types/${name}`;
      await storage.put(key, Buffer.from(name));
      const h = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
      assert.equal(h.ContentType, type, name);
      assert.equal(h.ContentDisposition?.split(';').slice(0, 2).join(';'), disposition, name);
    }
    // An explicit type wins over the extension.
    await storage.put(`${prefix}/types/x.bin`, Buffer.from('{}'), { contentType: 'application/json' });
    assert.equal((await storage.head(`${prefix}/types/x.bin`))?.contentType, 'application/json');
    // A copy takes the type of its own key.
    await storage.copy(`${prefix}/types/book.pdf`, `${prefix}/types/v1/book.pdf`);
    assert.equal((await storage.head(`${prefix}/types/v1/book.pdf`))?.contentType, 'application/pdf');
  });

  it('sends a 20 MB body in parts and gets it back byte-identical', async function () {
    this.timeout(120_000);
    const body = randomBytes(20 * 1024 * 1024);
    assert.ok(body.length > MULTIPART_THRESHOLD);
    const key = `${prefix}/big/book.pdf`;
    // Record the commands the storage's own client sends (s3rver's ETag does not show parts).
    const sent: string[] = [];
    const { client } = storage as S3Storage;
    const name = `record-${randomUUID()}`;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name },
    );
    let put;
    try {
      put = await storage.put(key, body);
    } finally {
      client.middlewareStack.remove(name);
    }
    assert.equal(put.sha256, sha(body));
    assert.deepEqual(
      sent.sort(),
      ['CompleteMultipartUploadCommand', 'CreateMultipartUploadCommand', ...Array(3).fill('UploadPartCommand')],
      '20 MB goes up as three 8 MB-or-less parts',
    );
    const h = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    assert.equal(h.ContentLength, body.length);
    assert.equal(h.ContentType, 'application/pdf');
    assert.equal(sha(await storage.get(key)), sha(body));
    assert.equal(sha(await drain(await storage.stream(key))), sha(body));
    const copy = await storage.copy(key, `${prefix}/big/v2/book.pdf`);
    assert.equal(copy.sha256, sha(body));
    assert.equal(copy.bytes, body.length);
  });

  it('describes a copy of an object written by another client by hashing it', async () => {
    const body = randomBytes(1000);
    const key = `${prefix}/foreign.png`;
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
    const copy = await storage.copy(key, `${prefix}/foreign-copy.png`);
    assert.equal(copy.sha256, sha(body));
  });

  it('signs a GET URL that plain fetch can use, which then expires', async function () {
    this.timeout(20_000);
    const body = randomBytes(50_000);
    const key = `${prefix}/dl/book.epub`;
    await storage.put(key, body);
    assert.ok(storage.presignedUrl, 's3 storage presigns');
    // ASCII name: s3rver checks query signatures with encodeURIComponent, not RFC 3986, so
    // a Unicode name's `filename*=UTF-8''…` cannot be verified here (real S3 accepts it).
    const url = await storage.presignedUrl(key, { expiresInSeconds: 60, downloadName: 'The Clockwork Gull.epub' });
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(body));
    assert.equal(res.headers.get('content-type'), 'application/epub+zip');
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="The Clockwork Gull.epub"');
    const plain = await fetch(await storage.presignedUrl(key, { expiresInSeconds: 60 }));
    assert.equal(plain.status, 200);
    assert.ok(Buffer.from(await plain.arrayBuffer()).equals(body));

    const short = await storage.presignedUrl(key, { expiresInSeconds: 1 });
    await new Promise((r) => setTimeout(r, 2000));
    const expired = await fetch(short);
    assert.equal(expired.status, 403);
    await expired.arrayBuffer();
  });

  it('reads what a plain S3 client reads', async () => {
    const body = randomBytes(4096);
    const key = `${prefix}/plain.json`;
    await storage.put(key, body);
    const got = await raw.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
  });
});
