/**
 * Listing and deleting by prefix, the two storage calls erasure relies on, on both
 * backends: local files and an S3-protocol server in its own process. A prefix is a
 * folder of our keys: a neighbour sharing its first characters is never touched.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLocalStorage } from '../../activities/storage/local';
import { createS3Storage } from '../../activities/storage/s3';
import type { Storage } from '../../activities/storage/types';
import { s3rverCompatible, startS3Server, type S3TestServer } from '../helpers/s3';

describe('storage: list and deletePrefix', function () {
  let dir: string;
  let s3: S3TestServer;
  const backends: Array<[string, () => Storage]> = [];

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storage-list-'));
    s3 = await startS3Server();
    backends.push(['local', () => createLocalStorage(dir)]);
    backends.push([
      's3',
      () => {
        const storage = createS3Storage({
          bucket: s3.bucket,
          endpoint: s3.endpoint,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY },
        });
        s3rverCompatible(storage.client);
        return storage;
      },
    ]);
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
    await s3?.stop();
  });

  it('lists every key under a prefix, deletes them all, and leaves the neighbours', async () => {
    for (const [name, make] of backends) {
      const storage = make();
      const mine = ['ebooks/b1/outline.json', 'ebooks/b1/images/cover.png', 'ebooks/b1/v1/book.pdf', 'ebooks/b1/v2/book.epub'];
      const theirs = ['ebooks/b10/outline.json', 'ebooks/b2/v1/book.pdf'];
      for (const key of [...mine, ...theirs]) await storage.put(key, Buffer.from(key));
      assert.deepEqual(await storage.list('ebooks/b1/'), [...mine].sort(), name);
      assert.deepEqual(await storage.list('ebooks/none/'), [], name);
      assert.equal(await storage.deletePrefix('ebooks/b1/'), mine.length, name);
      assert.deepEqual(await storage.list('ebooks/b1/'), [], name);
      for (const key of mine) assert.equal(await storage.head(key), undefined, `${name}: ${key}`);
      for (const key of theirs) assert.ok(await storage.head(key), `${name}: ${key} kept`);
      assert.equal(await storage.deletePrefix('ebooks/b1/'), 0, `${name}: again, nothing`);
      // Never the whole store: a prefix must name a folder.
      await assert.rejects(storage.list('ebooks'), /invalid storage prefix/, name);
      await assert.rejects(storage.deletePrefix(''), /invalid storage prefix/, name);
    }
  });
});
