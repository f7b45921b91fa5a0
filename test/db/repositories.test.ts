import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRepositories, type ChapterMeta, type Repositories } from '../../db/repositories';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';

describe('db repositories', () => {
  let db: TestDatabase;
  let repos: Repositories;

  before(async () => {
    db = await createTestDatabase();
    repos = createRepositories(db.knex);
  });
  after(async () => {
    await db?.drop();
  });

  async function newUser(role?: string) {
    return repos.profiles.ensure({ clerkUserId: `user_${randomUUID()}`, role });
  }

  async function newBook(userId: string, extra: { title?: string } = {}) {
    const id = randomUUID();
    return repos.ebooks.create({
      id,
      userId,
      workflowId: `ebook-${id}`,
      prompt: 'a lighthouse keeper',
      title: extra.title ?? 'Untitled',
      generationSettings: { chapterCount: 3, era: 'folklore' },
      stylePreferences: { style: 'watercolor' },
    });
  }

  describe('profiles', () => {
    it('ensure creates once; concurrent calls for one user all get the same row', async () => {
      const clerkUserId = `user_${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 8 }, () => repos.profiles.ensure({ clerkUserId, role: 'user' })),
      );
      assert.equal(new Set(results.map((p) => p.id)).size, 1);
      const { rows } = await db.knex.raw('SELECT count(*) AS n FROM profiles WHERE clerk_user_id = ?', [clerkUserId]);
      assert.equal(rows[0].n, 1);
      const p = results[0];
      assert.equal(p.email, null);
      assert.equal(p.role, 'user');
      assert.equal(p.subscriptionTier, 'free');
      assert.deepEqual(p.preferences, {});
      assert.equal(typeof p.createdAt, 'string');
      // Every call touched updated_at, so compare everything else.
      const { updatedAt: _ignored, ...stored } = (await repos.profiles.getByClerkId(clerkUserId))!;
      const { updatedAt: _also, ...returned } = p;
      assert.deepEqual(stored, returned);
    });

    it('ensure updates the role only when given, and keeps an email', async () => {
      const clerkUserId = `user_${randomUUID()}`;
      await repos.profiles.ensure({ clerkUserId, email: `${clerkUserId}@example.com`, name: 'Ada' });
      assert.equal((await repos.profiles.ensure({ clerkUserId, role: 'admin' })).role, 'admin');
      const again = await repos.profiles.ensure({ clerkUserId });
      assert.equal(again.role, 'admin');
      assert.equal(again.email, `${clerkUserId}@example.com`);
      assert.equal(again.name, 'Ada');
    });

    it('ensure of a new Clerk id whose email another profile has still succeeds (without the email)', async () => {
      const email = `shared_${randomUUID()}@example.com`;
      await repos.profiles.ensure({ clerkUserId: `user_${randomUUID()}`, email });
      const second = await repos.profiles.ensure({ clerkUserId: `user_${randomUUID()}`, email });
      assert.equal(second.email, null);
    });

    it('getByClerkId of an unknown id is undefined', async () => {
      assert.equal(await repos.profiles.getByClerkId('nobody'), undefined);
    });
  });

  describe('ebooks', () => {
    it('create, get, getForUser (another user sees nothing)', async () => {
      const owner = await newUser();
      const other = await newUser();
      const book = await newBook(owner.id);
      assert.equal(book.status, 'queued');
      assert.equal(book.stage, 'queued');
      assert.equal(book.progress, 0);
      assert.deepEqual(book.chapters, []);
      assert.equal(book.userId, owner.id);
      assert.equal(book.prompt, 'a lighthouse keeper');
      assert.deepEqual(book.generationSettings, { chapterCount: 3, era: 'folklore' });
      assert.deepEqual(book.stylePreferences, { style: 'watercolor' });
      assert.equal(book.workflowId, `ebook-${book.id}`);

      assert.deepEqual(await repos.ebooks.get(book.id), book);
      assert.deepEqual(await repos.ebooks.getForUser(book.id, owner.id), book);
      assert.equal(await repos.ebooks.getForUser(book.id, other.id), undefined);
      assert.equal(await repos.ebooks.get(randomUUID()), undefined);
      assert.equal(await repos.ebooks.get('not-a-uuid'), undefined);
      assert.equal(await repos.ebooks.getForUser('not-a-uuid', owner.id), undefined);
      // By the signed-in user's Clerk id: the same row for its owner, nothing for anyone else.
      assert.deepEqual(await repos.ebooks.getForClerkUser(book.id, owner.clerkUserId), book);
      assert.equal(await repos.ebooks.getForClerkUser(book.id, other.clerkUserId), undefined);
      assert.equal(await repos.ebooks.getForClerkUser(book.id, 'user_nobody'), undefined);
      assert.equal(await repos.ebooks.getForClerkUser('not-a-uuid', owner.clerkUserId), undefined);
    });

    it('create is idempotent on id, and refuses the id for another owner', async () => {
      const owner = await newUser();
      const id = randomUUID();
      const input = { id, userId: owner.id, workflowId: `ebook-${id}`, prompt: 'p', title: 'T' };
      const first = await repos.ebooks.create(input);
      assert.deepEqual(await repos.ebooks.create(input), first);
      const other = await newUser();
      await assert.rejects(repos.ebooks.create({ ...input, userId: other.id }), /already exists/);
    });

    it('listForUser pages newest first with a cursor, only the owner’s books', async () => {
      const owner = await newUser();
      const other = await newUser();
      await newBook(other.id);
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await newBook(owner.id, { title: `Book ${i}` }));
      // Same created_at for two books: the id breaks the tie and nothing is skipped.
      await db.knex('memory_books').whereIn('id', [made[1].id, made[2].id]).update({ created_at: made[1].createdAt });

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await repos.ebooks.listForUser(owner.id, { limit: 2, cursor });
        assert.ok(page.items.length <= 2);
        seen.push(...page.items.map((b) => b.id));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor);
      assert.equal(pages, 3);
      assert.deepEqual([...seen].sort(), made.map((b) => b.id).sort());
      assert.equal(seen[0], made[4].id);
      await assert.rejects(repos.ebooks.listForUser(owner.id, { cursor: 'garbage' }), /invalid cursor/);
    });

    it('updateStatus never leaves a terminal status unless forced', async () => {
      const owner = await newUser();
      for (const terminal of ['completed', 'failed', 'cancelled'] as const) {
        const book = await newBook(owner.id);
        assert.equal(await repos.ebooks.updateStatus(book.id, { status: 'running', stage: 'outline', progress: 0.1 }), true);
        let now = (await repos.ebooks.get(book.id))!;
        assert.equal(now.status, 'running');
        assert.equal(now.stage, 'outline');
        assert.ok(Math.abs(now.progress - 0.1) < 1e-6);

        const error = terminal === 'failed' ? { type: 'ProviderError', message: 'boom' } : undefined;
        assert.equal(await repos.ebooks.updateStatus(book.id, { status: terminal, stage: terminal, error }), true);
        assert.equal(await repos.ebooks.updateStatus(book.id, { status: 'running', stage: 'chapters' }), false);
        assert.equal(await repos.ebooks.updateStatus(book.id, { progress: 0.5 }), false);
        now = (await repos.ebooks.get(book.id))!;
        assert.equal(now.status, terminal);
        assert.equal(now.stage, terminal);
        assert.deepEqual(now.error, error ?? null);

        assert.equal(
          await repos.ebooks.updateStatus(book.id, { status: 'queued', stage: 'queued', error: null, force: true }),
          true,
        );
        now = (await repos.ebooks.get(book.id))!;
        assert.equal(now.status, 'queued');
        assert.equal(now.error, null);
      }
      assert.equal(await repos.ebooks.updateStatus(randomUUID(), { stage: 'x' }), false);
    });

    it('saveOutline, then 12 concurrent setChapter calls all survive', async () => {
      const owner = await newUser();
      const book = await newBook(owner.id);
      const chapters: ChapterMeta[] = Array.from({ length: 12 }, (_, i) => ({
        index: i + 1,
        title: `Chapter ${i + 1}`,
        status: 'pending',
      }));
      assert.equal(
        await repos.ebooks.saveOutline(book.id, { title: 'The Lighthouse', description: 'Waves.', chapters }),
        true,
      );
      // Two rounds, each touching every chapter at once with different fields.
      await Promise.all(
        chapters.map((c) =>
          repos.ebooks.setChapter(book.id, c.index, { status: 'written', words: 100 * c.index, textKey: `t/${c.index}` }),
        ),
      );
      const results = await Promise.all(
        chapters.map((c) =>
          repos.ebooks.setChapter(book.id, c.index, { imageKey: `i/${c.index}`, imageAlt: `alt ${c.index}` }),
        ),
      );
      assert.deepEqual(results, chapters.map(() => true));
      const now = (await repos.ebooks.get(book.id))!;
      assert.equal(now.title, 'The Lighthouse');
      assert.equal(now.description, 'Waves.');
      assert.deepEqual(
        now.chapters,
        chapters.map((c) => ({
          ...c,
          status: 'written',
          words: 100 * c.index,
          textKey: `t/${c.index}`,
          imageKey: `i/${c.index}`,
          imageAlt: `alt ${c.index}`,
        })),
      );
      assert.equal(await repos.ebooks.setChapter(book.id, 13, { status: 'x' }), false);
      assert.equal(await repos.ebooks.setChapter(randomUUID(), 1, { status: 'x' }), false);
      await assert.rejects(repos.ebooks.setChapter(book.id, 0, { status: 'x' }), RangeError);
    });

    it('publish completes the book with its files in one step; not a cancelled one', async () => {
      const owner = await newUser();
      const book = await newBook(owner.id);
      await repos.ebooks.updateStatus(book.id, { status: 'running', stage: 'publishing', progress: 0.9 });
      await repos.ebooks.mergeCost(book.id, { text: { tokens: 10 } });
      const files = {
        pdfKey: `ebooks/${book.id}/v1/book.pdf`,
        epubKey: `ebooks/${book.id}/v1/book.epub`,
        coverImageKey: `ebooks/${book.id}/v1/cover.jpg`,
        pdfUrl: `/v1/ebooks/${book.id}/files/pdf?v=1`,
        epubUrl: `/v1/ebooks/${book.id}/files/epub?v=1`,
        coverImageUrl: `/v1/ebooks/${book.id}/files/cover?v=1`,
        fileVersion: 1,
        images: [{ chapter: 1, key: 'i/1' }],
        providers: { text: 'offline' },
        metadata: { pages: 12 },
      };
      assert.equal(await repos.ebooks.publish(book.id, files), true);
      const now = (await repos.ebooks.get(book.id))!;
      assert.equal(now.status, 'completed');
      assert.equal(now.stage, 'completed');
      assert.equal(now.progress, 1);
      // Completing releases the files to the owner; only a public book gets a publication date.
      assert.equal(now.publishedAt, null);
      assert.equal(now.visibility, 'private');
      assert.equal(now.pdfKey, files.pdfKey);
      assert.equal(now.epubUrl, files.epubUrl);
      assert.equal(now.coverImageKey, files.coverImageKey);
      assert.equal(now.fileVersion, 1);
      assert.deepEqual(now.images, files.images);
      assert.deepEqual(now.providers, { text: 'offline' });
      assert.deepEqual(now.metadata, { pages: 12 });
      assert.deepEqual(now.cost, { text: { tokens: 10 } });
      // A retried publish step is harmless.
      assert.equal(await repos.ebooks.publish(book.id, files), true);

      const cancelled = await newBook(owner.id);
      await repos.ebooks.updateStatus(cancelled.id, { status: 'cancelled', stage: 'cancelled' });
      assert.equal(await repos.ebooks.publish(cancelled.id, files), false);
      assert.equal((await repos.ebooks.get(cancelled.id))!.status, 'cancelled');
    });
  });

  describe('activities', () => {
    it('record inserts once per dedupeKey, always without one', async () => {
      const user = await newUser();
      const key = `ebook_published:${randomUUID()}:1`;
      const results = await Promise.all(
        Array.from({ length: 5 }, () =>
          repos.activities.record({ userId: user.id, type: 'ebook_published', data: { v: 1 }, dedupeKey: key }),
        ),
      );
      assert.deepEqual(results.filter(Boolean).length, 1);
      assert.equal(
        await repos.activities.record({ userId: user.id, type: 'login', data: null, ipAddress: '127.0.0.1', userAgent: 'ua' }),
        true,
      );
      assert.equal(await repos.activities.record({ userId: user.id, type: 'login' }), true);
      const list = await repos.activities.listForUser(user.id);
      assert.equal(list.length, 3);
      const published = list.filter((a) => a.type === 'ebook_published');
      assert.equal(published.length, 1);
      assert.deepEqual(published[0].data, { v: 1 });
      assert.equal(published[0].dedupeKey, key);
      assert.ok(list.some((a) => a.ipAddress === '127.0.0.1' && a.userAgent === 'ua'));
    });
  });
});
