/**
 * A chapter stream cut short by a cancelled activity is still in the cost
 * ledger: the provider bills the tokens it streamed until the engine hung up.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { createLocalStorage } from '../../activities/storage/local';
import { createRepositories } from '../../db/repositories';
import { createPgEventBus } from '../../db/events';
import { createGroqTextProvider } from '../../activities/providers/groq-text';
import { createOfflineImageProvider } from '../../activities/providers/offline-image';
import { moderateLocally } from '../../activities/moderation';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';

describe('partial spend of a chapter stream cut short', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let dir: string;
  let groq: OpenAICompatServer;
  let bus: ReturnType<typeof createPgEventBus>;

  before(async () => {
    db = await createTestDatabase();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ebook-partial-'));
    groq = await startOpenAICompatServer();
    bus = createPgEventBus(db.knex, db.url);
  });
  after(async () => {
    await bus?.close();
    await groq?.close();
    await db?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('records the streamed part of a cancelled chapter call once, with its event', async () => {
    const repos = createRepositories(db.knex);
    const acts = createActivities({
      repos,
      storage: createLocalStorage(dir),
      events: bus,
      text: createGroqTextProvider({ apiKey: 'gsk-test', baseURL: groq.url, model: 'llama-3.3-70b-versatile', timeoutMs: 10_000 }),
      image: createOfflineImageProvider(),
      moderate: async (t) => moderateLocally(t),
    });
    const profile = await repos.profiles.ensure({ clerkUserId: 'partial-user' });
    const ebookId = randomUUID();
    const brief = { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 1 };
    await repos.ebooks.create({ id: ebookId, userId: profile.id, workflowId: `ebook-${ebookId}`, prompt: brief.prompt, title: 't', generationSettings: brief });
    await new MockActivityEnvironment().run(acts.writeOutline, { ebookId, brief });

    // 600 words, three words every 10 ms: about two seconds if nobody hangs up.
    groq.setAlways('chat', { kind: 'chapter', words: 600, chunkDelayMs: 10 });
    const env = new MockActivityEnvironment();
    const running = env.run(acts.writeChapter, { ebookId, index: 1 });
    await new Promise((r) => setTimeout(r, 700));
    env.cancel();
    await assert.rejects(running);

    const stream = groq.callsTo('chat').find((c) => c.body.stream);
    assert.equal(stream?.abandoned, true, 'the stream was closed before it ended');
    const rows = await db.knex('cost_ledger').where({ ebook_id: ebookId, step: 'chapter' });
    assert.equal(rows.length, 1, 'one ledger row for the cut-short call');
    const fullTokens = Math.ceil((600 * 6) / 4); // about six characters a word
    assert.ok(rows[0].output_tokens > 20 && rows[0].output_tokens < fullTokens, `partial output tokens: ${rows[0].output_tokens}`);
    assert.ok(rows[0].input_tokens > 0);
    assert.ok(Number(rows[0].cost_usd) > 0, 'priced from the table');
    const events = await db.knex('ebook_events').where({ ebook_id: ebookId, type: 'provider.call' });
    assert.equal(events.filter((e: { data: { step: string } }) => e.data.step === 'chapter').length, 1);
    assert.equal((await repos.ebooks.get(ebookId))!.chapters[0].textKey ?? null, null, 'nothing stored');
  });
});
