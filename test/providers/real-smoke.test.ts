/**
 * Smoke tests against the real provider APIs, through the same provider classes
 * the workers use, with tiny requests (a ~40-word chapter, a 512×512 picture, one
 * moderation). Each case runs only when its key is in the environment and is
 * reported as pending otherwise, with the variable that would enable it:
 *
 *   GROQ_API_KEY=… OPENAI_API_KEY=… RUNWARE_API_KEY=… npx mocha test/providers/real-smoke.test.ts
 *
 * Models, base URLs and timeouts come from the same variables as the engine's
 * (TEXT_MODEL_GROQ, OPENAI_BASE_URL, RUNWARE_URL, …).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../lib/config';
import { createLedger } from '../../db/ledger';
import { priceOf } from '../../core/pricing';
import { createRepositories } from '../../db/repositories';
import { buildOutline } from '../../activities/providers/offline-text';
import { createGroqTextProvider } from '../../activities/providers/groq-text';
import { createOpenAITextProvider } from '../../activities/providers/openai-text';
import { createRunwareImageProvider } from '../../activities/providers/runware-image';
import { createOpenAIModerator } from '../../activities/moderation';
import type { ChapterRequest, TextProvider } from '../../activities/providers/types';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import type { Usage } from '../../core/pricing';

const KEYS = ['GROQ_API_KEY', 'OPENAI_API_KEY', 'RUNWARE_API_KEY'] as const;
type Key = (typeof KEYS)[number];
const has = (key: Key) => Boolean(process.env[key]?.trim());

/** Skips the running test unless `key` is set, saying which variable would enable it. */
function requireKey(ctx: Mocha.Context, key: Key): void {
  if (has(key)) return;
  console.log(`      (skipped: set ${key} to call the real API)`);
  ctx.skip();
}

/** A one-chapter request small enough to cost a fraction of a cent. */
function tinyChapter(): ChapterRequest {
  const brief = { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 1 };
  const outline = buildOutline(brief);
  return { brief, outline, chapter: { ...outline.chapters[0], targetWords: 40 }, previousSummaries: [] };
}

describe('real providers (smoke, only with keys)', function () {
  this.timeout(180_000);
  const config = loadConfig(process.env);
  const p = config.providers;
  let db: TestDatabase | undefined;
  let ebookId: string;

  before(async () => {
    if (!KEYS.some(has)) return; // nothing will run: no database needed
    db = await createTestDatabase();
    const repos = createRepositories(db.knex);
    const profile = await repos.profiles.ensure({ clerkUserId: 'smoke-user' });
    ebookId = randomUUID();
    await repos.ebooks.create({ id: ebookId, userId: profile.id, workflowId: `ebook-${ebookId}`, prompt: 'smoke', title: 'smoke' });
  });
  after(async () => db?.drop());

  /** Writes the call into the ledger as the activities do and checks the row. */
  async function ledgerRow(step: string, provider: string, model: string, usage: Usage) {
    const ledger = createLedger(db!.knex);
    const { inserted, cost } = await ledger.record({ ebookId, step, provider, model, usage, idempotencyKey: `smoke:${randomUUID()}` });
    assert.equal(inserted, true);
    const [row] = (await ledger.entries(ebookId)).slice(-1);
    assert.equal(row.provider, provider);
    assert.equal(row.model, model);
    assert.ok(cost.calls >= 1);
    // A model in the price table gets a cost; an unknown one is recorded at 0, not as an error.
    if (priceOf(provider, model)) assert.ok(Number(row.cost_usd) > 0, `priced: ${row.cost_usd}`);
    else console.log(`      (model ${provider}/${model} has no price: add it to core/pricing.ts or PROVIDER_PRICES)`);
    return row;
  }

  async function chapterSmoke(provider: TextProvider) {
    const deltas: string[] = [];
    const result = await provider.writeChapter(tinyChapter(), (d) => deltas.push(d));
    const text = result.paragraphs.join(' ');
    assert.ok(text.split(/\s+/).length >= 15, `real prose came back: ${JSON.stringify(text.slice(0, 200))}`);
    assert.ok(deltas.length >= 1, 'it streamed');
    assert.equal(deltas.join('').replace(/\s+/g, ' ').trim(), result.paragraphs.join(' ').replace(/\s+/g, ' ').trim());
    assert.ok((result.usage.inputTokens ?? 0) > 0 && (result.usage.outputTokens ?? 0) > 0, JSON.stringify(result.usage));
    const row = await ledgerRow('chapter', provider.name, result.model, result.usage);
    assert.equal(row.input_tokens, result.usage.inputTokens);
    assert.equal(row.output_tokens, result.usage.outputTokens);
    return row;
  }

  it('Groq writes a streamed chapter and the ledger prices it (needs GROQ_API_KEY)', async function () {
    requireKey(this, 'GROQ_API_KEY');
    const provider = createGroqTextProvider({
      apiKey: p.groqApiKey!,
      baseURL: p.groqBaseUrl,
      model: p.textModelGroq,
      maxTokens: 1024,
      timeoutMs: 60_000,
    });
    await chapterSmoke(provider);
  });

  it('OpenAI writes a streamed chapter, priced in the ledger, and moderates (needs OPENAI_API_KEY)', async function () {
    requireKey(this, 'OPENAI_API_KEY');
    const provider = createOpenAITextProvider({
      apiKey: p.openaiApiKey!,
      baseURL: p.openaiBaseUrl,
      model: p.textModelOpenai,
      maxTokens: 1024,
      timeoutMs: 60_000,
    });
    await chapterSmoke(provider);
    const moderate = createOpenAIModerator({ apiKey: p.openaiApiKey!, baseURL: p.openaiBaseUrl });
    const clean = await moderate('A lighthouse keeper shares tea with a clockwork gull.');
    assert.equal(clean.source, 'openai');
    assert.equal(clean.flagged, false);
  });

  it('Runware draws a small picture and the ledger prices it (needs RUNWARE_API_KEY)', async function () {
    requireKey(this, 'RUNWARE_API_KEY');
    const provider = createRunwareImageProvider({ apiKey: p.runwareApiKey!, url: p.runwareUrl, model: p.imageModelRunware, timeoutMs: 90_000 });
    try {
      const result = await provider.generateImage({
        kind: 'illustration',
        prompt: 'A brass clockwork gull on a lighthouse railing, soft watercolour',
        width: 512,
        height: 512,
        seed: 42,
        palette: ['#1f4e79', '#ff8c42'],
      });
      assert.ok(result.data.length > 1_000, `an image came back (${result.data.length} bytes)`);
      assert.match(result.mime, /^image\/(png|jpeg)$/);
      assert.deepEqual([result.width, result.height], [512, 512], 'the size asked for');
      assert.equal(result.usage.images, 1);
      const row = await ledgerRow('illustration', 'runware', result.model, result.usage);
      assert.equal(row.images, 1);
    } finally {
      await provider.close();
    }
  });
});
