/**
 * The event bus's write path on Redis (what every piece of chapter text costs):
 * BENCH_BOOKS books (default 10) publishing at once, each BENCH_EVENTS events
 * (default 300) one after another, as a book's chapters do; time per event and
 * this process's CPU per event. Needs TEST_DATABASE_URL and TEST_REDIS_URL.
 *
 *   npx tsx bench/events-publish.ts
 */
import { randomUUID } from 'node:crypto';
import { createRedisEventBus } from '../db/events';
import { createRepositories } from '../db/repositories';
import { createTestDatabase } from '../test/helpers/postgres';
import { runMain } from './harness';

const BOOKS = Number(process.env.BENCH_BOOKS ?? 10);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 300);

runMain(async () => {
  const redisUrl = process.env.TEST_REDIS_URL;
  if (!redisUrl) throw new Error('TEST_REDIS_URL is not set');
  const db = await createTestDatabase();
  const bus = createRedisEventBus(db.knex, redisUrl, { pollIntervalMs: 0 });
  try {
    const repos = createRepositories(db.knex);
    const profile = (await repos.profiles.ensure({ clerkUserId: 'bench-events' })).id;
    const books: string[] = [];
    for (let i = 0; i < BOOKS; i++) {
      const id = randomUUID();
      await repos.ebooks.create({ id, userId: profile, workflowId: `ebook-${id}`, prompt: 'p', title: 't' });
      books.push(id);
    }
    for (let i = 0; i < 200; i++) await bus.publish(books[i % BOOKS], 'warm-up', { i });

    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      books.map(async (book) => {
        for (let i = 0; i < EVENTS; i++) await bus.publish(book, 'chapter.text', { index: 1, delta: `a few words, piece ${i} ` });
      }),
    );
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const total = BOOKS * EVENTS;
    console.log(
      `${total} events (${BOOKS} books at once, ${EVENTS} each in sequence) in ${ms.toFixed(0)} ms: ` +
        `${(ms / EVENTS).toFixed(2)} ms per event of a book, ${(total / (ms / 1000)).toFixed(0)} events/s, ` +
        `this process's CPU ${((cpu.user + cpu.system) / 1000 / total).toFixed(3)} ms per event`,
    );
  } finally {
    await bus.close();
    await db.drop();
  }
});
