/**
 * Activities one at a time in a mock activity context, over a real database
 * and real local storage: what each stores, returns, heartbeats and refuses.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities';
import { createProviderCalls } from '../../activities/provider-calls';
import { createLocalStorage } from '../../activities/storage/local';
import { createRepositories } from '../../db/repositories';
import { createPgEventBus } from '../../db/events';
import { createOfflineTextProvider } from '../../activities/providers/offline-text';
import { createOfflineImageProvider } from '../../activities/providers/offline-image';
import { createTestDatabase } from '../helpers/postgres';
import type { BookBrief } from '../../core/brief';

/** MockActivityEnvironment.run, typed by the activity it runs. */
function run<A extends unknown[], R>(env: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return env.run(fn, ...args) as Promise<R>;
}

describe('activities', function () {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: string;
  let acts: ReturnType<typeof createActivities>;
  let repos: ReturnType<typeof createRepositories>;
  let bus: ReturnType<typeof createPgEventBus>;
  const brief: BookBrief = { prompt: 'A beekeeper on Mars keeps a secret hive', chapterCount: 2, era: 'midnights' };

  before(async () => {
    db = await createTestDatabase();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ebook-acts-'));
    repos = createRepositories(db.knex);
    bus = createPgEventBus(db.knex, db.url);
    acts = createActivities({
      repos,
      storage: createLocalStorage(dir),
      events: bus,
      text: createOfflineTextProvider(),
      image: createOfflineImageProvider(),
      // The offline providers answer at once: no quiet start, so their heartbeats can be counted.
      heartbeatQuietMs: 0,
    });
  });
  after(async () => {
    await bus?.close();
    await db?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const newBook = async (b: BookBrief = brief, visibility: 'private' | 'public' = 'private') => {
    const profile = await repos.profiles.ensure({ clerkUserId: `user-${randomUUID()}` });
    const id = randomUUID();
    await repos.ebooks.create({
      id,
      userId: profile.id,
      workflowId: `ebook-${id}`,
      prompt: b.prompt,
      title: 'Untitled book',
      generationSettings: b,
      stylePreferences: {},
      visibility,
    });
    return id;
  };

  it('writeOutline stores the outline and returns only a reference', async () => {
    const ebookId = await newBook();
    const env = new MockActivityEnvironment();
    const ref = await run(env, acts.writeOutline, { ebookId, brief });
    assert.equal(ref.chapters.length, 2);
    assert.ok(ref.outlineKey.includes(ebookId));
    const stored = JSON.parse(await fs.readFile(path.join(dir, ref.outlineKey), 'utf8'));
    assert.equal(stored.title, ref.title);
    const row = await repos.ebooks.get(ebookId);
    assert.equal(row!.title, ref.title);
    assert.equal(row!.chapters.length, 2);
    assert.equal(row!.stage, 'chapters');
  });

  it('an activity stays quiet for its first moments: a quick step sends no heartbeat, a longer one does', async () => {
    const calls = createProviderCalls({
      repos,
      storage: createLocalStorage(dir),
      events: bus,
      text: createOfflineTextProvider(),
      image: createOfflineImageProvider(),
      heartbeatQuietMs: 150,
    });
    const quick = new MockActivityEnvironment();
    const quickBeats: unknown[] = [];
    quick.on('heartbeat', (d: unknown) => quickBeats.push(d));
    await quick.run(async () => {
      calls.heartbeat('start');
      calls.heartbeat('middle');
    });
    assert.deepEqual(quickBeats, [], 'a step that ended within the quiet time sent nothing');
    const long = new MockActivityEnvironment();
    const longBeats: unknown[] = [];
    long.on('heartbeat', (d: unknown) => longBeats.push(d));
    await long.run(async () => {
      calls.heartbeat('start');
      await new Promise((r) => setTimeout(r, 200));
      calls.heartbeat('later');
    });
    assert.deepEqual(longBeats, ['later'], 'after the quiet time it beats');
    // Outside an activity there is nothing to beat, and no error.
    calls.heartbeat('outside');
  });

  it('writeChapter heartbeats while it writes and stores the text by key', async () => {
    const ebookId = await newBook();
    await run(new MockActivityEnvironment(), acts.writeOutline, { ebookId, brief });
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    const ref = await run(env, acts.writeChapter, { ebookId, index: 1 });
    assert.ok(beats > 0, 'heartbeats during writing');
    assert.ok(ref.words > 50);
    assert.equal(ref.provider, 'offline');
    const stored = JSON.parse(await fs.readFile(path.join(dir, ref.textKey), 'utf8'));
    assert.ok(stored.paragraphs.length > 0);
    assert.ok(!JSON.stringify(ref).includes(stored.paragraphs[0]), 'the text is not in the result');
    const row = await repos.ebooks.get(ebookId);
    assert.equal(row!.chapters[0].status, 'written');
    assert.equal(row!.chapters[0].textProvider, 'offline');
  });

  it('refuses a bad brief with a non-retryable BadInput failure', async () => {
    const ebookId = await newBook();
    const env = new MockActivityEnvironment();
    await assert.rejects(
      run(env, acts.writeOutline, { ebookId, brief: { ...brief, prompt: ' ' } }),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'BadInput' && err.nonRetryable,
    );
    await assert.rejects(
      run(env, acts.writeOutline, { ebookId, brief: { ...brief, chapterCount: 99 } }),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'BadInput' && err.nonRetryable,
    );
  });

  it('answers a missing book with a non-retryable NotFound failure', async () => {
    await assert.rejects(
      run(new MockActivityEnvironment(), acts.startEbook, { ebookId: randomUUID() }),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'NotFound' && err.nonRetryable,
    );
  });

  it('stops writing when the activity is cancelled', async () => {
    const ebookId = await newBook();
    await run(new MockActivityEnvironment(), acts.writeOutline, { ebookId, brief });
    const env = new MockActivityEnvironment();
    env.cancel();
    await assert.rejects(run(env, acts.writeChapter, { ebookId, index: 2 }));
    const row = await repos.ebooks.get(ebookId);
    assert.notEqual(row!.chapters[1].status, 'written');
  });

  it('storeFiles writes a new version and keeps the previous one; a retry reuses its version', async () => {
    const ebookId = await newBook();
    const storage = createLocalStorage(dir);
    await storage.put(`ebooks/${ebookId}/draft/book.pdf`, Buffer.from('%PDF-1 first'));
    await storage.put(`ebooks/${ebookId}/draft/book.epub`, Buffer.from('epub first'));
    await storage.put(`ebooks/${ebookId}/images/cover.jpg`, Buffer.from('jpg'));
    const input = {
      ebookId,
      pdfKey: `ebooks/${ebookId}/draft/book.pdf`,
      epubKey: `ebooks/${ebookId}/draft/book.epub`,
      coverKey: `ebooks/${ebookId}/images/cover.jpg`,
    };
    const env = new MockActivityEnvironment();
    const v1 = await run(env, acts.storeFiles, input);
    const retry = await run(env, acts.storeFiles, input);
    assert.equal(v1.version, 1);
    assert.equal(retry.version, 1, 'a retry before publish overwrites its own version');
    await run(env, acts.publishEbook, { ebookId, files: v1, providers: { text: 'offline' } });
    await storage.put(`ebooks/${ebookId}/draft/book.pdf`, Buffer.from('%PDF-1 second'));
    const v2 = await run(env, acts.storeFiles, input);
    assert.equal(v2.version, 2);
    assert.equal((await storage.get(v1.pdf.key)).toString(), '%PDF-1 first', 'the old version stays');
    assert.equal((await storage.get(v2.pdf.key)).toString(), '%PDF-1 second');
  });

  it('publishEbook records each domain event once, also when retried (ebook_published only for a public book)', async () => {
    const ebookId = await newBook();
    const publicId = await newBook(brief, 'public');
    const files = {
      version: 1,
      pdf: { key: 'a.pdf', bytes: 1, sha256: 'x' },
      epub: { key: 'a.epub', bytes: 1, sha256: 'x' },
      cover: { key: 'a.jpg', bytes: 1, sha256: 'x' },
    };
    const env = new MockActivityEnvironment();
    for (const id of [ebookId, ebookId, publicId, publicId]) {
      await run(env, acts.publishEbook, { ebookId: id, files, providers: {} });
    }
    const types = async (id: string) =>
      (await db.knex('user_activities').whereRaw(`activity_data->>'ebookId' = ?`, [id]))
        .map((r: { activity_type: string }) => r.activity_type)
        .sort();
    // The files are released to the owner; a private book is not published to anyone.
    assert.deepEqual(await types(ebookId), ['ebook_generated']);
    assert.deepEqual(await types(publicId), ['ebook_generated', 'ebook_published']);
    const book = await repos.ebooks.get(ebookId);
    assert.equal(book!.status, 'completed');
    assert.equal(book!.pdfUrl, `/v1/ebooks/${ebookId}/files/pdf?v=1`);
    assert.equal(book!.publishedAt, null, 'a private book has no publication date');
    assert.ok((await repos.ebooks.get(publicId))!.publishedAt, 'a public book is published when it completes');
  });
});
