import assert from 'node:assert/strict';
import { createDb } from '../../db/knex';
import { migrate, migrationConfig, MIGRATION_NAMES, rollbackAll } from '../../db/migrate';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';

const TABLES = [
  'auth_sessions',
  'cost_ledger',
  'ebook_allowances',
  'ebook_events',
  'erasures',
  'idempotency_keys',
  'memory_books',
  'profiles',
  'provider_failures',
  'provider_settings',
  'rate_limits',
  'stories',
  'story_events',
  'story_views',
  'user_activities',
  'webhook_events',
];

async function tables(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.knex.raw(
    `SELECT table_name FROM information_schema.tables
     WHERE table_schema = 'public' AND table_name NOT LIKE 'knex_%' ORDER BY table_name`,
  );
  return rows.map((r: { table_name: string }) => r.table_name);
}

describe('db migrations', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterEach(async () => {
    await db.drop();
  });

  it('apply to an empty database, and a second run is a no-op', async () => {
    assert.deepEqual(await tables(db), []);
    const applied = await migrate(db.knex);
    assert.deepEqual(applied, MIGRATION_NAMES);
    assert.deepEqual(await tables(db), TABLES);

    assert.deepEqual(await migrate(db.knex), []);
    const { rows } = await db.knex.raw('SELECT name FROM knex_migrations');
    assert.equal(rows.length, MIGRATION_NAMES.length);
  });

  it('create the enums, defaults and indexes of the schema', async () => {
    await migrate(db.knex);
    const { rows: enums } = await db.knex.raw(
      `SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS labels
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname ORDER BY t.typname`,
    );
    assert.deepEqual(enums, [
      // awaiting_review: a book waiting for its outline review (issue 19).
      { typname: 'book_status', labels: ['draft', 'queued', 'running', 'awaiting_review', 'completed', 'failed', 'cancelled'] },
      { typname: 'story_status', labels: ['draft', 'generating', 'completed', 'failed', 'published', 'archived'] },
      { typname: 'subscription_tier', labels: ['free', 'speak_now', 'midnights', 'eras_tour'] },
    ]);
    const { rows: indexes } = await db.knex.raw(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public'`);
    const names = indexes.map((r: { indexname: string }) => r.indexname);
    for (const idx of [
      'idx_memory_books_user_id',
      'idx_memory_books_status',
      'idx_books_user_status',
      'idx_memory_books_created_at',
      'idx_stories_user_id',
      'idx_stories_created_at',
      'idx_stories_user_status',
      'idx_user_activities_user_id',
      'idx_user_activities_type',
      'idx_ebook_events_ebook_id',
    ]) {
      assert.ok(names.includes(idx), `missing index ${idx}`);
    }
    // Email is optional (development tokens have none) but unique.
    const [p1] = await db.knex('profiles').insert({ clerk_user_id: 'a' }).returning('*');
    await db.knex('profiles').insert({ clerk_user_id: 'b' });
    assert.equal(p1.email, null);
    assert.equal(p1.role, 'user');
    assert.equal(p1.subscription_tier, 'free');
    assert.ok(p1.created_at instanceof Date);
    await db.knex('profiles').update({ email: 'x@example.com' }).where({ clerk_user_id: 'a' });
    await assert.rejects(
      db.knex('profiles').update({ email: 'x@example.com' }).where({ clerk_user_id: 'b' }),
      /unique/,
    );
    const [book] = await db.knex('memory_books').insert({ user_id: p1.id, title: 't' }).returning('*');
    assert.deepEqual(book.chapters, []);
    assert.equal(book.progress, 0);
    assert.equal(book.file_version, 0);
    assert.deepEqual(book.cost, {});
    assert.match(book.id, /^[0-9a-f-]{36}$/);
  });

  it('roll back completely and apply again', async () => {
    await migrate(db.knex);
    await rollbackAll(db.knex);
    assert.deepEqual(await tables(db), []);
    const { rows } = await db.knex.raw(`SELECT count(*) AS n FROM pg_type WHERE typname = 'book_status'`);
    assert.equal(rows[0].n, 0);
    assert.deepEqual(await migrate(db.knex), MIGRATION_NAMES);
  });

  it('run from two connections at once: one applies, the other waits and finds nothing to do', async () => {
    const a = createDb(db.url);
    const b = createDb(db.url);
    try {
      const results = await Promise.all([migrate(a), migrate(b), migrate(db.knex)]);
      assert.deepEqual(
        results.map((r) => r.length).sort(),
        [0, 0, MIGRATION_NAMES.length],
        `exactly one caller applies the migrations: ${JSON.stringify(results)}`,
      );
      const { rows } = await db.knex.raw('SELECT name FROM knex_migrations ORDER BY id');
      assert.deepEqual(
        rows.map((r: { name: string }) => r.name),
        MIGRATION_NAMES,
      );
      assert.deepEqual(await tables(db), TABLES);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
  });

  it('run forward on a database holding data from the first release, losing none of it', async () => {
    // The first migration alone, as a database of the first release has it.
    await db.knex.migrate.up(migrationConfig);
    await db.knex.raw(`INSERT INTO profiles (clerk_user_id, email) VALUES ('user_old', 'old@example.com')`);
    await db.knex.raw(
      `INSERT INTO memory_books (user_id, title, chapters, status)
       SELECT id, 'An old book', '[{"index":1,"title":"One","status":"done"}]', 'completed' FROM profiles`,
    );
    const applied = await migrate(db.knex);
    assert.deepEqual(applied, MIGRATION_NAMES.slice(1));
    const book = await db.knex('memory_books').first();
    assert.equal(book.title, 'An old book');
    assert.equal(book.status, 'completed');
    assert.deepEqual(book.chapters, [{ index: 1, title: 'One', status: 'done' }]);
    assert.equal(book.allowance_period, null);
    assert.equal((await db.knex('profiles').first()).email, 'old@example.com');
  });

  it('add visibility and revision to the books of a database at the cost-ledger release, keeping every row', async () => {
    const before = MIGRATION_NAMES.indexOf('20251127050000_sharing_revisions');
    assert.ok(before > 0);
    for (let i = 0; i < before; i++) await db.knex.migrate.up(migrationConfig);
    const { rows: [profile] } = await db.knex.raw(`INSERT INTO profiles (clerk_user_id) VALUES ('user_v5') RETURNING id`);
    await db.knex.raw(
      `INSERT INTO memory_books (user_id, title, status, file_version, published_at, pdf_key)
       VALUES (?, 'Done', 'completed', 2, now(), 'ebooks/x/v2/book.pdf'), (?, 'Running', 'running', 0, NULL, NULL)`,
      [profile.id, profile.id],
    );
    assert.deepEqual(await migrate(db.knex), MIGRATION_NAMES.slice(before));
    const books = await db.knex('memory_books').orderBy('title');
    assert.deepEqual(
      books.map((b: Record<string, unknown>) => [b.title, b.status, b.file_version, b.pdf_key, b.visibility, b.revision]),
      [
        ['Done', 'completed', 2, 'ebooks/x/v2/book.pdf', 'private', null],
        ['Running', 'running', 0, null, 'private', null],
      ],
    );
    assert.ok(books[0].published_at instanceof Date, 'published_at is kept');
    await assert.rejects(db.knex('memory_books').update({ visibility: 'everyone' }), /check/);
  });
});
