/**
 * Redis stopped under a running engine (issue 15): a redis-server of this test's
 * own (REDIS_URL for the event bus, the API's client for rate limits and the
 * chapter cache), shut down with `SHUTDOWN NOSAVE` while one book streams its
 * events and before another is created. Nothing answers 500: readiness stays 200
 * and says `degraded: ["redis"]`, the rate limits count in the process's memory
 * (429 past the limit), both books complete with every event streamed from the
 * table, the book, its files and the session routes answer. Redis started again
 * is used again: rate-limit keys, the chapter cache, live events over pub/sub.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { freePort } from '../helpers/postgres';
import { readEventStream, startRedisServer, type EventStreamReader, type RedisTestServer, type StreamedEvent } from '../helpers/fault';
import { signSessionToken } from '../../lib/tokens';
import { createApiRedis } from '../../wiring/redis';

const USER_LIMIT = 40;

describe('Redis stopped under a running engine', function () {
  this.timeout(300_000);
  let redis: RedisTestServer;
  let tmp: string;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ebook-redis-down-'));
    redis = await startRedisServer(await freePort(), path.join(tmp, 'redis.log'));
  });
  // Registered after the hook above, so its `before` runs once Redis listens.
  const stack = useTestStack(() => ({
    REDIS_URL: redis.url,
    TEXT_PROVIDERS: 'offline',
    IMAGE_PROVIDERS: 'offline',
    OFFLINE_PROVIDER_DELAY_MS: '150',
    CHAPTER_CONCURRENCY: '2',
    RATE_LIMIT_USER_PER_MINUTE: String(USER_LIMIT),
    RATE_LIMIT_IP_PER_MINUTE: '100000',
  }));
  let url: string;
  let apiRedis: Redis;
  let probe: Redis;
  let token: string;
  const answers: string[] = [];
  const streams: EventStreamReader[] = [];

  /** Every answer of the test goes through here, so "no 500" covers all of them. */
  const call = async (method: string, p: string, opts: Parameters<typeof api>[3] = {}) => {
    const r = await api(url, method, p, { token, ...opts });
    answers.push(`${method} ${p} -> ${r.status}`);
    return r;
  };
  const userToken = async (userId: string) => {
    await stack.services.repos.profiles.ensure({ clerkUserId: userId });
    await stack.services.repos.profiles.setSubscription(userId, 'midnights');
    return signSessionToken(stack.devKeys, { userId });
  };
  const createBook = async (prompt: string) => {
    const r = await call('POST', '/v1/ebooks', { body: { prompt, chapterCount: 2 } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return r.body.id as string;
  };
  const stream = async (id: string) => {
    const s = await readEventStream(`${url}/v1/ebooks/${id}/events`, token);
    answers.push(`GET /v1/ebooks/${id}/events -> ${s.status}`);
    streams.push(s);
    return s;
  };
  /** Event ids grow and none repeats; the run's steps are all there. */
  const assertWholeRun = (events: StreamedEvent[]) => {
    const ids = events.map((e) => e.id);
    assert.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b), 'ids in order, each once');
    const types = new Set(events.map((e) => e.type));
    for (const t of ['chapter.written', 'chapter.illustrated', 'cover', 'completed']) assert.ok(types.has(t), `a ${t} event (got ${[...types].join(', ')})`);
    assert.equal(events.filter((e) => e.type === 'chapter.written').length, 2);
  };

  before(async () => {
    apiRedis = createApiRedis(redis.url);
    probe = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => 200 });
    probe.on('error', () => undefined);
    stack.defer(async () => {
      for (const s of streams) s.close();
      apiRedis.disconnect();
      probe.disconnect();
      await redis.close();
      await fs.rm(tmp, { recursive: true, force: true });
    });
    ({ url } = await stack.startApi({ redis: apiRedis }));
    await stack.startWorker();
    token = await userToken('redis-down-owner');
  });

  let before1: string;
  let before1Stream: EventStreamReader;
  let during: string;
  let duringStream: EventStreamReader;

  it('uses Redis while it is up', async () => {
    const ready = await call('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.checks.redis, 'ok');
    assert.equal(ready.body.degraded, undefined);
    before1 = await createBook('A lighthouse keeper and a clockwork gull');
    before1Stream = await stream(before1);
    await before1Stream.until(['stage', 'outline', 'chapter.text', 'chapter.written'], 60_000);
  });

  it('keeps answering with Redis stopped: ready but degraded, books complete, events stream from the table', async () => {
    await redis.stop();
    const ready = await waitFor('readiness to notice Redis is gone', async () => {
      const r = await call('GET', '/readyz');
      return r.body?.checks?.redis !== 'ok' && r;
    }, 30_000);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(ready.body.degraded, ['redis']);
    assert.equal(ready.body.status, 'ready');

    during = await createBook('A cartographer of clouds and a stubborn kite');
    duringStream = await stream(during);
    assert.equal(duringStream.status, 200);
    const status = await call('GET', `/v1/ebooks/${during}/status`);
    assert.equal(status.status, 200);

    for (const s of [before1Stream, duringStream]) {
      const end = await s.until(['completed', 'failed', 'cancelled'], 180_000);
      assert.equal(end.type, 'completed', JSON.stringify(end.data));
      assertWholeRun(s.events);
    }
    // The stream that joined during the outage has the whole run from its start.
    assert.ok(duringStream.events.some((e) => e.type === 'started'), 'the run’s first event');

    for (const id of [before1, during]) {
      const st = await call('GET', `/v1/ebooks/${id}/status`);
      assert.equal(st.body.status, 'completed');
      // The chapter cache is off: the text comes from storage.
      const book = await call('GET', `/v1/ebooks/${id}`);
      assert.equal(book.status, 200);
      assert.ok(book.body.chapters[0].paragraphs.length > 0);
      const pdf = await fetch(`${url}/v1/ebooks/${id}/files/pdf`, { headers: { authorization: `Bearer ${token}` } });
      answers.push(`GET /v1/ebooks/${id}/files/pdf -> ${pdf.status}`);
      assert.equal(pdf.status, 200);
      assert.equal(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString(), '%PDF-');
    }

    // Session routes keep their answers (they never needed Redis).
    assert.equal((await call('GET', '/v1/auth/sessions')).status, 200);
    assert.ok((await call('GET', '/v1/auth/sessions/validate')).status < 500);
  });

  it('limits requests per process while Redis is stopped (429 past the limit, not 500)', async () => {
    const limited = await userToken('redis-down-limited');
    const statuses: number[] = [];
    for (let i = 0; i <= USER_LIMIT; i++) statuses.push((await call('GET', '/v1/users/me/subscription', { token: limited })).status);
    assert.deepEqual(statuses, [...Array(USER_LIMIT).fill(200), 429]);
    const last = await call('GET', '/v1/users/me/subscription', { token: limited });
    assert.equal(last.status, 429);
    assert.match(last.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.ok(Number(last.headers.get('retry-after')) >= 1);
  });

  it('uses Redis again once it is back: rate limits, the chapter cache and live events', async () => {
    await redis.start();
    await probe.connect().catch(() => undefined);
    await waitFor('readiness to see Redis again', async () => (await call('GET', '/readyz')).body?.checks?.redis === 'ok', 30_000);

    // Rate limits count in Redis again.
    const again = await userToken('redis-back-user');
    assert.equal((await call('GET', '/v1/users/me/subscription', { token: again })).status, 200);
    assert.deepEqual(await probe.keys('rl-user*redis-back-user'), ['rl-user:redis-back-user']);

    // The chapter cache is written to Redis again.
    assert.equal((await call('GET', `/v1/ebooks/${during}`)).status, 200);
    assert.ok((await probe.keys(`ebook-chapters:${during}:*`)).length > 0, 'the book’s chapters cached in Redis');

    // A new book's events go over Redis pub/sub again (seen by a subscriber of our own).
    const heard: string[] = [];
    const listener = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      await listener.psubscribe('ebook-events:*');
      listener.on('pmessage', (_p, _channel, msg) => heard.push(JSON.parse(msg).type));
      const after = await createBook('A beekeeper and a lost winter queen');
      const s = await stream(after);
      const end = await s.until(['completed', 'failed', 'cancelled'], 180_000);
      assert.equal(end.type, 'completed');
      assertWholeRun(s.events);
      assert.ok(heard.includes('completed'), `events published over Redis (heard: ${heard.join(', ')})`);
      // And the API process is subscribed to the book's channel (the stream is still open).
      const [, subscribers] = (await probe.pubsub('NUMSUB', `ebook-events:${after}`)) as [string, number];
      assert.ok(subscribers >= 1, 'the API subscribes to the book’s channel again');
    } finally {
      listener.disconnect();
    }
  });

  it('answered no request with a 500', () => {
    const fiveHundreds = answers.filter((a) => / -> 5\d\d$/.test(a));
    assert.deepEqual(fiveHundreds, [], 'no 5xx while Redis was down or after');
    assert.ok(answers.length > USER_LIMIT, 'the requests were made');
  });
});
