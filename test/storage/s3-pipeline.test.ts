/**
 * One book end to end with S3 storage: the engine configured only through the S3_* and
 * AWS_* variables, writing to a real S3-compatible server in another process.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { useTestStack } from '../helpers/stack';
import { startS3Server, type S3TestServer } from '../helpers/s3';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

describe('pipeline with S3 storage (HTTP → Temporal → s3rver)', function () {
  let s3: S3TestServer;
  let raw: S3Client;
  let apiUrl: string;
  let token: string;

  before(async () => {
    s3 = await startS3Server();
  });
  const stack = useTestStack(() => s3.env);
  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'alice' });
    raw = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY },
    });
    stack.defer(() => raw.destroy());
  });

  after(async () => {
    await s3?.stop();
  });

  it('stores the published files in the bucket and serves the same bytes', async () => {
    assert.equal(stack.services.storage.kind, 's3');
    assert.equal((await api(apiUrl, 'GET', '/readyz')).status, 200, 'readiness pings the bucket');

    const created = await api(apiUrl, 'POST', '/v1/ebooks', {
      token,
      body: { prompt: 'A ferryman carries letters across a frozen lake', chapterCount: 2 },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id: string = created.body.id;

    await waitFor('the book to complete', async () => {
      const s = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
      if (s.body.status === 'failed') assert.fail(`book failed: ${JSON.stringify(s.body.error)}`);
      return s.body.status === 'completed';
    });
    const book = await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token });
    assert.equal(book.body.chapters.length, 2);

    const row = await stack.services.repos.ebooks.getForUser(
      id,
      (await stack.services.repos.profiles.getByClerkId('alice'))!.id,
    );
    for (const [kind, key, type] of [
      ['pdf', row!.pdfKey, 'application/pdf'],
      ['epub', row!.epubKey, 'application/epub+zip'],
    ] as const) {
      assert.ok(key, `${kind} key is set`);
      assert.ok(key.includes(id) && key.includes('/v1/'), `${kind} key names the book and version: ${key}`);
      const head = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
      assert.equal(head.ContentType, type);
      assert.match(head.ContentDisposition ?? '', /^attachment/);
      const direct = Buffer.from(
        await (await raw.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))).Body!.transformToByteArray(),
      );
      assert.ok(direct.length > 1000);

      // The owner is redirected to a short-lived signed URL on the store itself.
      const hop = await fetch(`${apiUrl}${book.body[`${kind}Url`]}`, {
        headers: { authorization: `Bearer ${token}` },
        redirect: 'manual',
      });
      assert.equal(hop.status, 302);
      const signed = new URL(hop.headers.get('location')!);
      assert.equal(signed.origin, new URL(s3.endpoint).origin);
      assert.ok(signed.searchParams.get('X-Amz-Signature'));
      assert.equal(signed.searchParams.get('X-Amz-Expires'), '300');
      const res = await fetch(signed);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), type);
      const served = Buffer.from(await res.arrayBuffer());
      assert.ok(served.equals(direct), `the API serves the bucket's ${kind} byte for byte`);
    }
    assert.equal(await fs.stat(path.join(stack.dataDir, 'files')).catch(() => undefined), undefined, 'nothing went to local disk');
  });
});
