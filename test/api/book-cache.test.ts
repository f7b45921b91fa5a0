/**
 * GET /v1/ebooks/{id} reads every chapter's text from storage; the cache (Redis
 * when configured, else a process-local LRU) serves a repeat read without
 * touching storage, and any change of the book is visible on the next read.
 * "Without touching storage" is shown by changing a chapter's stored text behind
 * the API's back: a cached read still answers the text it read first.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import Redis from 'ioredis';
import { startApi, useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { createBookCache } from '../../api/book-cache';

const stores: Array<'memory' | 'redis'> = process.env.TEST_REDIS_URL ? ['memory', 'redis'] : ['memory'];

describe('book response cache', function () {
  this.timeout(300_000);
  const stack = useTestStack();
  let token: string;
  let id: string;
  let textKey: string;

  before(async () => {
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'cora' });
    const { url, stop } = await startApi(stack);
    try {
      const created = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A lamplighter and a city of moths', chapterCount: 2 } });
      id = created.body.id;
      await waitFor('the book', async () => (await api(url, 'GET', `/v1/ebooks/${id}/status`, { token })).body.status === 'completed');
    } finally {
      await stop();
    }
    textKey = (await stack.services.repos.ebooks.get(id))!.chapters[0].textKey!;
  });

  /** node:http, not fetch: fetch marks conditional requests no-cache, which a server must answer in full. */
  const conditional = (url: string, etag: string) =>
    new Promise<number>((resolve, reject) => {
      http
        .get(`${url}/v1/ebooks/${id}`, { headers: { authorization: `Bearer ${token}`, 'if-none-match': etag } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });

  const storeText = (paragraphs: string[]) =>
    stack.services.storage.put(textKey, Buffer.from(JSON.stringify({ index: 1, title: 'x', paragraphs })));

  for (const store of stores) {
    it(`${store}: a repeat read comes from the cache; a change is visible at once`, async () => {
      const redis = store === 'redis' ? new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: 1 }) : undefined;
      const { url, stop } = await startApi(stack, { redis });
      try {
        const first = await api(url, 'GET', `/v1/ebooks/${id}`, { token });
        assert.equal(first.status, 200);
        const etag = first.headers.get('etag');
        assert.ok(etag);
        const original = first.body.chapters[0].paragraphs as string[];
        assert.ok(original.length > 0);
        if (redis) assert.equal((await redis.keys(`ebook-chapters:${id}:*`)).length >= 1, true, 'the entry is in Redis');

        await storeText([`Rewritten behind the API's back (${store}).`]);
        const second = await api(url, 'GET', `/v1/ebooks/${id}`, { token });
        assert.deepEqual(second.body.chapters[0].paragraphs, original, 'served from the cache, not from storage');
        assert.equal(second.headers.get('etag'), etag);
        assert.equal(await conditional(url, etag!), 304);

        const title = `Moths, ${store}`;
        assert.equal((await api(url, 'PUT', `/v1/ebooks/${id}`, { token, body: { title } })).status, 200);
        const changed = await api(url, 'GET', `/v1/ebooks/${id}`, { token });
        assert.equal(changed.body.title, title, 'the change is visible at once');
        assert.deepEqual(changed.body.chapters[0].paragraphs, [`Rewritten behind the API's back (${store}).`], 'read again after the change');
        assert.notEqual(changed.headers.get('etag'), etag);
        assert.equal(await conditional(url, etag!), 200, 'the old ETag no longer matches');
      } finally {
        await storeText(['Restored.']);
        await stop();
        redis?.disconnect();
      }
    });
  }

  it('the process-local cache keeps only its most recently used entries', async () => {
    const cache = createBookCache({ maxEntries: 2 });
    await cache.set('a', '1');
    await cache.set('b', '2');
    assert.equal(await cache.get('a'), '1'); // a is now the most recently used
    await cache.set('c', '3');
    assert.equal(await cache.get('b'), undefined, 'the least recently used entry went');
    assert.equal(await cache.get('a'), '1');
    assert.equal(await cache.get('c'), '3');
  });
});
