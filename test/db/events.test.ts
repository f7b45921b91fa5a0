import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { createPgEventBus, LISTENER_APPLICATION_NAME, type EbookEvent, type EventBus } from '../../db/events';
import { createDb } from '../../db/knex';
import { createRepositories } from '../../db/repositories';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function assertInOrderWithoutDuplicates(events: EbookEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i].id > events[i - 1].id, `ids must grow: ${events[i - 1].id} then ${events[i].id}`);
  }
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

    const got: EbookEvent[] = [];
    const unsubscribe = await api.subscribe(book, 0, (e) => got.push(e));
    // subscribe resolves once the stored events were delivered.
    assert.deepEqual(got.map((e) => e.id), stored);
    assert.deepEqual(got.map((e) => e.data), [{ step: 0 }, { step: 1 }, { step: 2 }]);
    assert.equal(got[0].ebookId, book);
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
    const got: EbookEvent[] = [];
    await api.subscribe(book, ids[1], (e) => got.push(e));
    assert.deepEqual(got.map((e) => e.id), ids.slice(2));
    const next = await worker.publish(book, 'done', null);
    await worker.publish(otherBook, 'done', null);
    await waitFor('the next event', () => got.length === 4);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got.map((e) => e.id), [...ids.slice(2), next]);
    assert.ok(got.every((e) => e.ebookId === book));
  });

  it('many concurrent publishers: every event once, in id order, for every subscriber', async () => {
    const book = await newBook();
    const a: EbookEvent[] = [];
    const b: EbookEvent[] = [];
    const local: EbookEvent[] = [];
    await api.subscribe(book, 0, (e) => a.push(e));
    await api.subscribe(book, 0, (e) => b.push(e));
    await worker.subscribe(book, 0, (e) => local.push(e)); // same process as the publisher
    const published = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 ? worker : api).publish(book, 'progress', { i })),
    );
    await waitFor('all events', () => a.length === 60 && b.length === 60 && local.length === 60);
    await new Promise((r) => setTimeout(r, 100));
    const expected = [...published].sort((x, y) => x - y);
    for (const got of [a, b, local]) {
      assertInOrderWithoutDuplicates(got);
      assert.deepEqual(got.map((e) => e.id), expected);
    }
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
      const got: EbookEvent[] = [];
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
