import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import pg from 'pg';
import Redis from 'ioredis';
import {
  createPgEventBus,
  createRedisEventBus,
  EVENTS_CHANNEL,
  LISTENER_APPLICATION_NAME,
  redisEventChannel,
  STORY_EVENTS,
  type BusEvent,
  type EventBus,
} from '../../db/events';
import { createDb } from '../../db/knex';
import { createRepositories } from '../../db/repositories';
import { createStoryRepository } from '../../db/stories';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function assertInOrderWithoutDuplicates(events: BusEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i].id > events[i - 1].id, `ids must grow: ${events[i - 1].id} then ${events[i].id}`);
  }
}

/** 60 events published at once, alternately by `publishers`: each subscription gets all of them once, in id order. */
async function concurrentPublishersReachEverySubscriber(book: string, publishers: EventBus[], subscribers: EventBus[]): Promise<void> {
  const got: BusEvent[][] = subscribers.map(() => []);
  for (const [i, bus] of subscribers.entries()) await bus.subscribe(book, 0, (e) => got[i].push(e));
  const published = await Promise.all(
    Array.from({ length: 60 }, (_, i) => publishers[i % publishers.length].publish(book, 'progress', { i })),
  );
  await waitFor('all events', () => got.every((g) => g.length === 60));
  await new Promise((r) => setTimeout(r, 100));
  const expected = [...published].sort((x, y) => x - y);
  for (const events of got) {
    assertInOrderWithoutDuplicates(events);
    assert.deepEqual(events.map((e) => e.id), expected);
  }
}

/**
 * A story's bus beside a book's: each owner's events in its own table, delivered to
 * its own subscribers only, and gone with their story.
 */
async function storiesApartFromBooks(
  knex: Knex,
  profileId: string,
  book: string,
  books: { publisher: EventBus; subscriber: EventBus },
  stories: { publisher: EventBus; subscriber: EventBus },
): Promise<void> {
  const story = (await createStoryRepository(knex).create({ userId: profileId, title: 'A ferry', content: '' })).id;
  const bookGot: BusEvent[] = [];
  const storyGot: BusEvent[] = [];
  await books.subscriber.subscribe(book, 0, (e) => bookGot.push(e));
  await stories.subscriber.subscribe(story, 0, (e) => storyGot.push(e));
  const s1 = await stories.publisher.publish(story, 'outline', { revision: 1 });
  const b1 = await books.publisher.publish(book, 'stage', { stage: 'outline' });
  const s2 = await stories.publisher.publish(story, 'section.text', { revision: 1, index: 1, delta: 'Night fell.' });
  await waitFor('the story and book events', () => storyGot.length === 2 && bookGot.length === 1);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(
    storyGot.map((e) => [e.id, e.ownerId, e.type]),
    [
      [s1, story, 'outline'],
      [s2, story, 'section.text'],
    ],
  );
  assert.deepEqual(bookGot.map((e) => [e.id, e.ownerId]), [[b1, book]]);
  assert.equal((await knex('story_events').where({ story_id: story })).length, 2);
  assert.equal((await knex('ebook_events').where({ ebook_id: book })).length, 1);
  await knex('stories').where({ id: story }).delete();
  assert.equal((await knex('story_events').where({ story_id: story })).length, 0, "a story's events go with it");
}

describe('db events (PostgreSQL event bus)', () => {
  let db: TestDatabase;
  // Two buses on two knex pools: as if a worker and an API process.
  let otherKnex: Knex;
  let worker: EventBus;
  let api: EventBus;
  let profileId: string;

  before(async () => {
    db = await createTestDatabase();
    otherKnex = createDb(db.url);
    profileId = (await createRepositories(db.knex).profiles.ensure({ clerkUserId: 'events-user' })).id;
  });
  after(async () => {
    await otherKnex?.destroy();
    await db?.drop();
  });

  beforeEach(() => {
    // No safety-net polling: delivery must come from NOTIFY and reconnects alone.
    worker = createPgEventBus(db.knex, db.url, { pollIntervalMs: 0 });
    api = createPgEventBus(otherKnex, db.url, { pollIntervalMs: 0, reconnectMinMs: 20 });
  });
  afterEach(async () => {
    await Promise.all([worker.close(), api.close()]);
  });

  async function newBook(): Promise<string> {
    const id = randomUUID();
    await createRepositories(db.knex).ebooks.create({ id, userId: profileId, workflowId: `ebook-${id}`, prompt: 'p', title: 't' });
    return id;
  }

  it('replays stored events, then delivers live ones in order, across processes', async () => {
    const book = await newBook();
    const stored = [];
    for (let i = 0; i < 3; i++) stored.push(await worker.publish(book, 'progress', { step: i }));
    assert.deepEqual([...stored].sort((a, b) => a - b), stored);

    const got: BusEvent[] = [];
    const unsubscribe = await api.subscribe(book, 0, (e) => got.push(e));
    // subscribe resolves once the stored events were delivered.
    assert.deepEqual(got.map((e) => e.id), stored);
    assert.deepEqual(got.map((e) => e.data), [{ step: 0 }, { step: 1 }, { step: 2 }]);
    assert.equal(got[0].ownerId, book);
    assert.equal(got[0].type, 'progress');
    assert.ok(!Number.isNaN(Date.parse(got[0].createdAt)));

    const live = [];
    for (let i = 3; i < 6; i++) live.push(await worker.publish(book, 'chapter', { step: i, text: 'x'.repeat(20_000) }));
    await waitFor('live events', () => got.length === 6);
    assert.deepEqual(got.map((e) => e.id), [...stored, ...live]);
    assert.equal((got[5].data as { text: string }).text.length, 20_000);

    await unsubscribe();
    await worker.publish(book, 'progress', { step: 6 });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(got.length, 6, 'nothing after unsubscribe');
  });

  it('resumes after afterId, and keeps books apart', async () => {
    const book = await newBook();
    const otherBook = await newBook();
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await worker.publish(book, 'progress', { i }));
      await worker.publish(otherBook, 'progress', { i });
    }
    const got: BusEvent[] = [];
    await api.subscribe(book, ids[1], (e) => got.push(e));
    assert.deepEqual(got.map((e) => e.id), ids.slice(2));
    const next = await worker.publish(book, 'done', null);
    await worker.publish(otherBook, 'done', null);
    await waitFor('the next event', () => got.length === 4);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got.map((e) => e.id), [...ids.slice(2), next]);
    assert.ok(got.every((e) => e.ownerId === book));
  });

  it('many concurrent publishers: every event once, in id order, for every subscriber', async () => {
    // Two subscribers in one process, one in the same process as a publisher.
    await concurrentPublishersReachEverySubscriber(await newBook(), [worker, api], [api, api, worker]);
  });

  it('delivers what was published while the LISTEN connection was down, once it is back', async () => {
    const book = await newBook();
    const errors: unknown[] = [];
    // A slow first reconnect, so the events below are surely published while
    // nobody listens: only the re-read after reconnecting can find them.
    const bus = createPgEventBus(otherKnex, db.url, {
      pollIntervalMs: 0,
      reconnectMinMs: 500,
      onError: (e) => errors.push(e),
    });
    try {
      const got: BusEvent[] = [];
      await bus.subscribe(book, 0, (e) => got.push(e));
      const first = await worker.publish(book, 'progress', { n: 0 });
      await waitFor('the first event', () => got.length === 1);

      const listeners = async () =>
        (
          await db.knex.raw(
            `SELECT pid FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()`,
            [LISTENER_APPLICATION_NAME],
          )
        ).rows as Array<{ pid: number }>;
      const before = await listeners();
      assert.equal(before.length, 1, 'one LISTEN connection (only one bus subscribes)');
      // The second argument waits until the backend is gone (PostgreSQL 14+).
      const killed = await db.knex.raw('SELECT pg_terminate_backend(?, 5000) AS ok', [before[0].pid]);
      assert.equal(killed.rows[0].ok, true);

      const during = [];
      for (let i = 1; i <= 5; i++) during.push(await worker.publish(book, 'progress', { n: i }));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(got.length, 1, 'nothing arrives while disconnected');
      await waitFor('the events published during the outage', () => got.length === 6);

      const after = await listeners();
      assert.equal(after.length, 1);
      assert.notEqual(after[0].pid, before[0].pid);
      const later = await worker.publish(book, 'progress', { n: 6 });
      await waitFor('an event after the reconnect', () => got.length === 7);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(got.map((e) => e.id), [first, ...during, later]);
      assert.ok(errors.some((e) => (e as { code?: string }).code === '57P01'), 'the lost connection was reported');
    } finally {
      await bus.close();
    }
  });

  it("carries a story's events in their own table and channel, apart from books'", async () => {
    const storyWorker = createPgEventBus(db.knex, db.url, { pollIntervalMs: 0, stream: STORY_EVENTS });
    const storyApi = createPgEventBus(otherKnex, db.url, { pollIntervalMs: 0, stream: STORY_EVENTS });
    try {
      await storiesApartFromBooks(db.knex, profileId, await newBook(), { publisher: worker, subscriber: api }, { publisher: storyWorker, subscriber: storyApi });
    } finally {
      await Promise.all([storyWorker.close(), storyApi.close()]);
    }
  });

  it('a subscriber that throws does not stop the others; a closed bus refuses subscriptions', async () => {
    const book = await newBook();
    const errors: unknown[] = [];
    const bus = createPgEventBus(otherKnex, db.url, { pollIntervalMs: 0, onError: (e) => errors.push(e) });
    const got: number[] = [];
    await bus.subscribe(book, 0, () => {
      throw new Error('bad subscriber');
    });
    await bus.subscribe(book, 0, (e) => got.push(e.id));
    const id = await worker.publish(book, 'progress', {});
    await waitFor('delivery', () => got.length === 1);
    assert.deepEqual(got, [id]);
    assert.equal(errors.length, 1);
    await bus.close();
    await assert.rejects(bus.subscribe(book, 0, () => undefined), /closed/);
  });
});

describe('db events (Redis pub/sub fan-out, PostgreSQL rows as the record)', function () {
  const redisUrl = process.env.TEST_REDIS_URL;
  let db: TestDatabase;
  let apiKnex: Knex;
  let otherApiKnex: Knex;
  let worker: EventBus;
  let otherWorker: EventBus;
  let api: EventBus;
  let otherApi: EventBus;
  let profileId: string;
  let observer: Redis;
  let pgListener: pg.Client;
  const observed = new Map<string, Array<{ id: number; prevId: number; type: string }>>();
  const notified: string[] = [];

  before(async function () {
    if (!redisUrl) this.skip(); // TEST_REDIS_URL (a real Redis) enables these
    db = await createTestDatabase();
    apiKnex = createDb(db.url);
    otherApiKnex = createDb(db.url);
    profileId = (await createRepositories(db.knex).profiles.ensure({ clerkUserId: 'redis-events-user' })).id;
    // A plain Redis client on every book channel: what actually goes over Redis.
    observer = new Redis(redisUrl!);
    observer.on('pmessage', (_p, channel, raw) => {
      const m = JSON.parse(raw);
      if (!observed.has(channel)) observed.set(channel, []);
      observed.get(channel)!.push({ id: m.id, prevId: m.prevId, type: m.type });
    });
    await observer.psubscribe('ebook-events:*');
    // And a plain LISTEN on PostgreSQL's channel: the Redis bus must not use it.
    pgListener = new pg.Client({ connectionString: db.url });
    await pgListener.connect();
    pgListener.on('notification', (n) => notified.push(n.payload ?? ''));
    await pgListener.query(`LISTEN ${EVENTS_CHANNEL}`);
  });
  after(async () => {
    observer?.disconnect();
    await pgListener?.end();
    await apiKnex?.destroy();
    await otherApiKnex?.destroy();
    await db?.drop();
  });

  beforeEach(() => {
    // Four bus instances on their own pools and connections, as four processes
    // would have; no safety-net polling, so live delivery can only come through Redis.
    worker = createRedisEventBus(db.knex, redisUrl!, { pollIntervalMs: 0 });
    otherWorker = createRedisEventBus(db.knex, redisUrl!, { pollIntervalMs: 0 });
    api = createRedisEventBus(apiKnex, redisUrl!, { pollIntervalMs: 0 });
    otherApi = createRedisEventBus(otherApiKnex, redisUrl!, { pollIntervalMs: 0 });
  });
  afterEach(async () => {
    await Promise.all([worker, otherWorker, api, otherApi].map((b) => b?.close()));
  });

  async function newBook(): Promise<string> {
    const id = randomUUID();
    await createRepositories(db.knex).ebooks.create({ id, userId: profileId, workflowId: `ebook-${id}`, prompt: 'p', title: 't' });
    return id;
  }

  it("carries a story's events on their own channels, apart from books'", async () => {
    const storyWorker = createRedisEventBus(db.knex, redisUrl!, { pollIntervalMs: 0, stream: STORY_EVENTS });
    const storyApi = createRedisEventBus(apiKnex, redisUrl!, { pollIntervalMs: 0, stream: STORY_EVENTS });
    try {
      await storiesApartFromBooks(db.knex, profileId, await newBook(), { publisher: worker, subscriber: api }, { publisher: storyWorker, subscriber: storyApi });
    } finally {
      await Promise.all([storyWorker.close(), storyApi.close()]);
    }
  });

  it('stored events first, then live ones over Redis (seen on the channel), none over NOTIFY', async () => {
    const book = await newBook();
    const stored = [await worker.publish(book, 'stage', { stage: 'outline' }), await worker.publish(book, 'outline', { title: 'T' })];
    const got: BusEvent[] = [];
    await api.subscribe(book, 0, (e) => got.push(e));
    assert.deepEqual(got.map((e) => e.id), stored, 'stored events come from the table at once');

    const live = [];
    for (let i = 0; i < 5; i++) live.push(await worker.publish(book, 'chapter.text', { index: 1, delta: `part ${i} ` }));
    await waitFor('live events', () => got.length === 7);
    assert.deepEqual(got.map((e) => e.id), [...stored, ...live]);
    assert.deepEqual(got[2].data, { index: 1, delta: 'part 0 ' });
    assert.equal(got[2].type, 'chapter.text');
    assert.ok(!Number.isNaN(Date.parse(got[2].createdAt)));

    const onChannel = observed.get(redisEventChannel(book)) ?? [];
    assert.deepEqual(onChannel.map((m) => m.id), [...stored, ...live], 'every event went over the book\'s Redis channel');
    assert.deepEqual(onChannel.map((m) => m.prevId), [0, ...stored, ...live].slice(0, 7), 'each names its predecessor');
    assert.ok(!notified.some((n) => n.includes(book)), 'no PostgreSQL NOTIFY for this book');
    const rows = await db.knex('ebook_events').where({ ebook_id: book }).orderBy('id').pluck('id');
    assert.deepEqual(rows.map(Number), [...stored, ...live], 'the rows stay the record');
  });

  it('chapter text deltas: in order, no gap, no repeat across a reconnect with Last-Event-ID to another API process', async () => {
    const book = await newBook();
    const words = Array.from({ length: 300 }, (_, i) => `w${i} `);
    const first: BusEvent[] = [];
    const unsubscribe = await api.subscribe(book, 0, (e) => first.push(e));
    // The activity publishes its deltas as a chain, one after the other; a second
    // worker publishes progress of another chapter at the same time.
    const publishing = (async () => {
      for (const delta of words) await worker.publish(book, 'chapter.text', { index: 1, delta });
    })();
    const other = (async () => {
      for (let i = 0; i < 30; i++) await otherWorker.publish(book, 'provider.call', { i });
    })();
    await waitFor('some text', () => first.length >= 60);
    // The client drops; the next connection goes to another API process.
    await unsubscribe();
    const lastEventId = first.at(-1)!.id;
    const second: BusEvent[] = [];
    await otherApi.subscribe(book, lastEventId, (e) => second.push(e));
    await Promise.all([publishing, other]);
    await waitFor('the rest', () => first.length + second.length === 330);
    await new Promise((r) => setTimeout(r, 200));
    const all = [...first, ...second];
    assertInOrderWithoutDuplicates(all);
    assert.equal(all.length, 330);
    const text = all.filter((e) => e.type === 'chapter.text').map((e) => (e.data as { delta: string }).delta).join('');
    assert.equal(text, words.join(''));
    const rows = await db.knex('ebook_events').where({ ebook_id: book }).orderBy('id').pluck('id');
    assert.deepEqual(all.map((e) => e.id), rows.map(Number));
  });

  it('many concurrent publishers in two processes: every subscriber gets each event once, in id order', async () => {
    await concurrentPublishersReachEverySubscriber(await newBook(), [worker, otherWorker], [api, otherApi, worker]);
  });

  it('an event in a transaction goes out once it commits, and never when it rolls back', async () => {
    const book = await newBook();
    const got: BusEvent[] = [];
    await api.subscribe(book, 0, (e) => got.push(e));
    await assert.rejects(
      db.knex.transaction(async (trx) => {
        await worker.publish(book, 'provider.call', { rolled: 'back' }, trx);
        throw new Error('rollback');
      }),
      /rollback/,
    );
    let committedId = 0;
    await db.knex.transaction(async (trx) => {
      committedId = await worker.publish(book, 'provider.call', { n: 1 }, trx);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(got.length, 0, 'nothing before the commit');
    });
    await waitFor('the committed event', () => got.length === 1);
    const next = await worker.publish(book, 'stage', {});
    await waitFor('the next event', () => got.length === 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got.map((e) => e.id), [committedId, next]);
    assert.ok(!(observed.get(redisEventChannel(book)) ?? []).some((m) => m.type === 'provider.call' && m.id < committedId));
  });

  it('after its Redis connection is killed, a subscriber gets what it missed from the table', async () => {
    const book = await newBook();
    const errors: unknown[] = [];
    const clientName = `events-test-${randomUUID()}`;
    const bus = createRedisEventBus(apiKnex, redisUrl!, { pollIntervalMs: 0, onError: (e) => errors.push(e), clientName });
    try {
      const got: BusEvent[] = [];
      await bus.subscribe(book, 0, (e) => got.push(e));
      const first = await worker.publish(book, 'progress', { n: 0 });
      await waitFor('the first event', () => got.length === 1);
      const admin = new Redis(redisUrl!);
      try {
        const list = String(await admin.client('LIST'));
        const mine = list.split('\n').filter((l) => l.includes(`name=${clientName}-subscriber `));
        assert.equal(mine.length, 1, 'the bus subscribes on one connection, under its name');
        assert.match(mine[0], / sub=1 /, 'subscribed to the one book channel');
        // Only this connection: the Redis server may be shared with other tests.
        await admin.client('KILL', 'ID', /(?:^| )id=(\d+)/.exec(mine[0])![1]);
      } finally {
        admin.disconnect();
      }
      const during = [];
      for (let i = 1; i <= 5; i++) during.push(await worker.publish(book, 'progress', { n: i }));
      await waitFor('the events published while it reconnected', () => got.length === 6);
      const later = await worker.publish(book, 'progress', { n: 6 });
      await waitFor('an event after the reconnect', () => got.length === 7);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(got.map((e) => e.id), [first, ...during, later]);
      assert.ok(errors.length === 0 || errors.every((e) => e instanceof Error), 'only errors were reported');
    } finally {
      await bus.close();
    }
  });
  it('subscriptions that arrive while its connection is still starting up all take effect, with no error', async () => {
    // A SUBSCRIBE sent after the socket connects but before the connection is ready
    // put it in subscriber mode under its own ready check, which then failed and
    // reconnected, again and again while subscriptions kept coming (the start of an
    // API process that many streams reach at once).
    const books = await Promise.all(Array.from({ length: 40 }, () => newBook()));
    const errors: unknown[] = [];
    const bus = createRedisEventBus(apiKnex, redisUrl!, { pollIntervalMs: 0, onError: (e) => errors.push(e) });
    try {
      const got = new Map<string, BusEvent[]>(books.map((b) => [b, []]));
      // One new book every turn of the event loop, from before the connection exists until after it is ready.
      const subscribed: Array<Promise<unknown>> = [];
      for (const book of books) {
        subscribed.push(bus.subscribe(book, 0, (e) => got.get(book)!.push(e)));
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all(subscribed);
      const published = await Promise.all(books.map((b) => worker.publish(b, 'progress', { b })));
      await waitFor('one event on every book', () => books.every((b) => got.get(b)!.length === 1));
      assert.deepEqual(books.map((b) => got.get(b)![0].id), published);
      assert.deepEqual(errors.map(String), []);
    } finally {
      await bus.close();
    }
  });
  it('the periodic safety net: one query per interval for all books, a read only for a subscriber behind the table', async () => {
    const books = await Promise.all(Array.from({ length: 4 }, () => newBook()));
    const bus = createRedisEventBus(apiKnex, redisUrl!, { pollIntervalMs: 100 });
    const queries: string[] = [];
    const onQuery = (q: { sql: string }) => queries.push(q.sql);
    try {
      const got = new Map<string, BusEvent[]>(books.map((b) => [b, []]));
      // Five subscribers per book, as five readers of one book would open.
      for (const book of books) for (let i = 0; i < 5; i++) await bus.subscribe(book, 0, (e) => got.get(book)!.push(e));
      apiKnex.on('query', onQuery);
      await new Promise((r) => setTimeout(r, 550));
      const reads = queries.filter((q) => /from "ebook_events"/i.test(q) && !/max\(e\.id\)/.test(q));
      const checks = queries.filter((q) => /max\(e\.id\)/.test(q));
      assert.equal(reads.length, 0, 'nothing was missed, so no subscriber read the table');
      assert.ok(checks.length >= 3 && checks.length <= 6, `one check per interval, not one per subscriber: ${checks.length}`);

      // An event that never went over Redis (as if its message were lost): only the safety net can find it.
      queries.length = 0;
      const [row] = await db.knex('ebook_events').insert({ ebook_id: books[2], type: 'progress', data: JSON.stringify({ lost: true }) }).returning('id');
      await waitFor('the lost event, at its book’s five subscribers', () => got.get(books[2])!.length === 5);
      assert.deepEqual(got.get(books[2])!.map((e) => e.id), Array(5).fill(Number(row.id)));
      for (const b of [books[0], books[1], books[3]]) assert.equal(got.get(b)!.length, 0);
      const readBooks = queries.filter((q) => /from "ebook_events"/i.test(q) && !/max\(e\.id\)/.test(q)).length;
      assert.equal(readBooks, 1, `the five subscribers behind share one read of their book (${readBooks} reads)`);
    } finally {
      apiKnex.off('query', onQuery);
      await bus.close();
    }
  });
  it('readers of one book share their table reads, and at most a few reads hold pool connections at once', async () => {
    const books = await Promise.all(Array.from({ length: 8 }, () => newBook()));
    for (const book of books) {
      await db.knex('ebook_events').insert(Array.from({ length: 30 }, (_, n) => ({ ebook_id: book, type: 'progress', data: JSON.stringify({ n }) })));
    }
    const bus = createRedisEventBus(apiKnex, redisUrl!, { pollIntervalMs: 0 });
    let inFlight = 0;
    let maxInFlight = 0;
    let reads = 0;
    const uids = new Set<string>();
    const onQuery = (q: { sql: string; __knexQueryUid: string }) => {
      if (!/from "ebook_events"/i.test(q.sql)) return;
      reads++;
      uids.add(q.__knexQueryUid);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
    };
    const onDone = (_r: unknown, q: { __knexQueryUid: string }) => {
      if (uids.delete(q.__knexQueryUid)) inFlight--;
    };
    apiKnex.on('query', onQuery).on('query-response', onDone).on('query-error', onDone);
    try {
      // Twelve readers of each book open their streams at the same moment, from the start.
      const got = new Map<string, number[][]>(books.map((b) => [b, Array.from({ length: 12 }, () => [])]));
      await Promise.all(
        books.flatMap((book) => got.get(book)!.map((ids) => bus.subscribe(book, 0, (e) => ids.push(e.id)))),
      );
      await waitFor('every reader has its book’s 30 events', () => [...got.values()].every((rs) => rs.every((ids) => ids.length === 30)));
      for (const rs of got.values()) for (const ids of rs) assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
      assert.ok(reads <= 2 * books.length, `${reads} reads for ${books.length} books and ${12 * books.length} readers`);
      assert.ok(maxInFlight <= 3, `at most three reads at once (${maxInFlight})`);
    } finally {
      apiKnex.off('query', onQuery).off('query-response', onDone).off('query-error', onDone);
      await bus.close();
    }
  });

  it('messages that cross on the way are put back in order without reading the table; a lost one is read after a moment', async () => {
    const book = await newBook();
    const bus = createRedisEventBus(apiKnex, redisUrl!, { pollIntervalMs: 0, reorderWaitMs: 200 });
    const publisher = new Redis(redisUrl!);
    const reads: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/from "ebook_events"/i.test(q.sql)) reads.push(q.sql);
    };
    try {
      const got: BusEvent[] = [];
      await bus.subscribe(book, 0, (e) => got.push(e));
      apiKnex.on('query', onQuery);
      // Three committed events whose messages arrive in the order 2, 3, 1 (as two publishers' may).
      const rows: Array<{ id: string; created_at: Date }> = await db
        .knex('ebook_events')
        .insert([1, 2, 3].map((n) => ({ ebook_id: book, type: 'progress', data: JSON.stringify({ n }) })))
        .returning(['id', 'created_at']);
      const ids = rows.map((r) => Number(r.id));
      const message = (i: number) =>
        JSON.stringify({ id: ids[i], prevId: i === 0 ? 0 : ids[i - 1], ownerId: book, type: 'progress', data: { n: i + 1 }, createdAt: rows[i].created_at });
      for (const i of [1, 2, 0]) await publisher.publish(redisEventChannel(book), message(i));
      await waitFor('the three events', () => got.length === 3);
      assert.deepEqual(got.map((e) => e.id), ids, 'in id order');
      assert.deepEqual(reads, [], 'without a read of the table');

      // A message whose predecessor never comes: after the wait, the table fills the gap.
      const [lost, next] = await db
        .knex('ebook_events')
        .insert([4, 5].map((n) => ({ ebook_id: book, type: 'progress', data: JSON.stringify({ n }) })))
        .returning(['id', 'created_at']);
      await publisher.publish(
        redisEventChannel(book),
        JSON.stringify({ id: Number(next.id), prevId: Number(lost.id), ownerId: book, type: 'progress', data: { n: 5 }, createdAt: next.created_at }),
      );
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(got.length, 3, 'held, not delivered out of order');
      await waitFor('the lost event and the held one', () => got.length === 5);
      assert.deepEqual(got.slice(3).map((e) => e.id), [Number(lost.id), Number(next.id)]);
      assert.ok(reads.length >= 1, 'read from the table');
    } finally {
      apiKnex.off('query', onQuery);
      publisher.disconnect();
      await bus.close();
    }
  });
});
