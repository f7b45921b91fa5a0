/**
 * The cost ledger: one row per real provider call, recorded once per key, and
 * the book's `cost` summed from it (offline books cost 0; books written by the
 * local OpenAI-compatible server cost exactly what the price table says).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { useTestStack, type TestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { createLedger } from '../../db/ledger';
import { costOf } from '../../core/pricing';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

async function runBook(stack: TestStack, apiUrl: string, token: string, chapterCount: number) {
  const created = await api(apiUrl, 'POST', '/v1/ebooks', {
    token,
    body: { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount },
  });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const { id } = created.body;
  await waitFor(
    'the book to complete',
    async () => {
      const s = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
      if (s.body.status === 'failed') assert.fail(`book failed: ${JSON.stringify(s.body.error)}`);
      return s.body.status === 'completed';
    },
    100_000,
  );
  const events = await stack.services.knex('ebook_events').where({ ebook_id: id, type: 'provider.call' });
  const rows = await stack.services.knex('cost_ledger').where({ ebook_id: id }).orderBy('id');
  const book = await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token });
  return { id, events, rows, cost: book.body.cost };
}

describe('cost ledger', function () {
  this.timeout(150_000);

  describe('with the offline providers', () => {
    const stack = useTestStack();
    let apiUrl: string;
    let token: string;
    before(async () => {
      ({ url: apiUrl } = await stack.startApi());
      await stack.startWorker();
      token = await signSessionToken(stack.devKeys, { userId: 'lena' });
    });

    it('records one row per provider call, at no cost', async () => {
      const { events, rows, cost } = await runBook(stack, apiUrl, token, 2);
      const images = events.filter((e: { data: { step: string } }) => e.data.step === 'illustration' || e.data.step === 'cover').length;
      assert.equal(images, 3, 'cover and two illustrations');
      assert.ok(events.length >= 6, `outline, chapters, pictures: ${events.length} calls`);
      assert.equal(rows.length, events.length);
      assert.ok(rows.every((r: { provider: string; cost_usd: string }) => r.provider === 'offline' && Number(r.cost_usd) === 0));
      assert.equal(cost.calls, events.length);
      assert.equal(cost.totalUsd, 0);
      assert.equal(cost.byProvider.offline.calls, events.length);
      assert.equal(cost.byProvider.offline.images, 3);
      assert.equal(new Set(rows.map((r: { idempotency_key: string }) => r.idempotency_key)).size, rows.length);
    });

    it('counts a call recorded twice with the same key once', async () => {
      const { repos } = stack.services;
      const profile = await repos.profiles.ensure({ clerkUserId: 'ledger-user', role: 'user' });
      const id = randomUUID();
      await repos.ebooks.create({ id, userId: profile.id, workflowId: `ebook-${id}`, prompt: 'p', title: 't' });
      const ledger = createLedger(stack.services.knex);
      const entry = {
        ebookId: id,
        step: 'chapter',
        chapterIndex: 1,
        provider: 'openai',
        model: 'gpt-4.1-mini',
        usage: { inputTokens: 1000, outputTokens: 2000 },
        idempotencyKey: `ebook-${id}:5:1:chapter:1`,
      };
      const first = await ledger.record(entry);
      const second = await ledger.record(entry);
      assert.equal(first.inserted, true);
      assert.equal(second.inserted, false);
      // A retry (attempt 2) really called the provider again: a new spend.
      const retry = await ledger.record({ ...entry, idempotencyKey: `ebook-${id}:5:2:chapter:1` });
      assert.equal(retry.inserted, true);
      assert.equal((await ledger.entries(id)).length, 2);
      const each = costOf('openai', 'gpt-4.1-mini', entry.usage).costUsd; // 0.0004 + 0.0032
      assert.equal(each, 0.0036);
      assert.deepEqual(retry.cost, {
        totalUsd: 0.0072,
        calls: 2,
        byProvider: { openai: { usd: 0.0072, calls: 2, inputTokens: 2000, outputTokens: 4000, images: 0 } },
      });
      const book = await repos.ebooks.get(id);
      assert.equal((book!.cost as { totalUsd: number }).totalUsd, 0.0072);
      // Unknown models cost 0 and say the price is not an estimate.
      assert.deepEqual(costOf('openai', 'no-such-model', { inputTokens: 5 }), { costUsd: 0, estimated: false });
    });

    it('keeps every concurrent record in the total', async () => {
      const { repos } = stack.services;
      const profile = await repos.profiles.ensure({ clerkUserId: 'ledger-user-2', role: 'user' });
      const id = randomUUID();
      await repos.ebooks.create({ id, userId: profile.id, workflowId: `ebook-${id}`, prompt: 'p', title: 't' });
      const ledger = createLedger(stack.services.knex);
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          ledger.record({ ebookId: id, step: 'illustration', chapterIndex: i + 1, provider: 'runware', model: 'runware:101@1', usage: { images: 1 }, idempotencyKey: `k-${id}-${i}` }),
        ),
      );
      const book = await repos.ebooks.get(id);
      assert.deepEqual(book!.cost, { totalUsd: 0.0304, calls: 8, byProvider: { runware: { usd: 0.0304, calls: 8, inputTokens: 0, outputTokens: 0, images: 8 } } });
    });
  });

  describe('with the local OpenAI-compatible server', () => {
    let openai: OpenAICompatServer;
    let apiUrl: string;
    let token: string;
    before(async () => {
      openai = await startOpenAICompatServer();
    });
    const stack = useTestStack(() => ({
      ...providerEnv({ openai }),
      TEXT_PROVIDERS: 'openai',
      IMAGE_PROVIDERS: 'openai',
    }));
    before(async () => {
      ({ url: apiUrl } = await stack.startApi());
      await stack.startWorker();
      token = await signSessionToken(stack.devKeys, { userId: 'omar' });
    });
    after(async () => {
      await openai?.close();
    });

    it('totals exactly what the price table says for the calls made', async () => {
      const { events, rows, cost } = await runBook(stack, apiUrl, token, 2);
      assert.equal(rows.length, events.length);
      assert.equal(rows.length, openai.callsTo('chat').length + openai.callsTo('images').length);
      let expected = 0;
      for (const e of events) expected += costOf(e.data.provider, e.data.model, e.data.usage).costUsd;
      expected = round6(expected);
      assert.ok(expected > 0);
      assert.equal(cost.totalUsd, expected);
      assert.equal(cost.calls, rows.length);
      assert.equal(round6(rows.reduce((s: number, r: { cost_usd: string }) => s + Number(r.cost_usd), 0)), expected);
      assert.equal(cost.byProvider.openai.images, 3);
      assert.equal(cost.byProvider.openai.inputTokens, rows.reduce((s: number, r: { input_tokens: number }) => s + r.input_tokens, 0));
    });
  });
});
