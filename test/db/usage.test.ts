import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '../helpers/postgres';
import { createRepositories } from '../../db/repositories';

describe('db allowances', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let repos: ReturnType<typeof createRepositories>;
  before(async () => {
    db = await createTestDatabase();
    repos = createRepositories(db.knex);
  });
  after(async () => db?.drop());

  it('never reserves past the limit under concurrency', async () => {
    const p = await repos.profiles.ensure({ clerkUserId: `u-${randomUUID()}` });
    const results = await Promise.all(Array.from({ length: 20 }, () => repos.usage.reserve(p.id, '2026-11', 3)));
    assert.equal(results.filter(Boolean).length, 3);
    assert.equal(await repos.usage.used(p.id, '2026-11'), 3);
    assert.equal(await repos.usage.reserve(p.id, '2026-12', 3), true, 'a new month starts afresh');
  });

  it('counts unlimited plans without refusing', async () => {
    const p = await repos.profiles.ensure({ clerkUserId: `u-${randomUUID()}` });
    const results = await Promise.all(Array.from({ length: 10 }, () => repos.usage.reserve(p.id, '2026-11', null)));
    assert.ok(results.every(Boolean));
    assert.equal(await repos.usage.used(p.id, '2026-11'), 10);
  });

  it('releases a book’s allowance exactly once', async () => {
    const p = await repos.profiles.ensure({ clerkUserId: `u-${randomUUID()}` });
    assert.ok(await repos.usage.reserve(p.id, '2026-11', 1));
    const id = randomUUID();
    await repos.ebooks.create({ id, userId: p.id, workflowId: `ebook-${id}`, prompt: 'x', title: 't', generationSettings: {}, stylePreferences: {} });
    await repos.usage.attach(id, '2026-11');
    const releases = await Promise.all([repos.usage.release(id), repos.usage.release(id), repos.usage.release(id)]);
    assert.equal(releases.filter(Boolean).length, 1);
    assert.equal(await repos.usage.used(p.id, '2026-11'), 0);
    assert.equal(await repos.usage.release(randomUUID()), false);
  });
});
