/**
 * /v1/ai/services: provider status, and an admin's switch of the preferred order,
 * which a running worker follows for the next book (two local servers).
 */
import assert from 'node:assert/strict';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';

describe('AI services API', function () {
  this.timeout(120_000);
  let groq: OpenAICompatServer;
  let openai: OpenAICompatServer;
  let apiUrl: string;
  let user: string;
  let admin: string;

  before(async () => {
    groq = await startOpenAICompatServer();
    openai = await startOpenAICompatServer();
  });
  const stack = useTestStack(() => ({
    ...providerEnv({ groq, openai }),
    TEXT_PROVIDERS: 'groq,openai',
    IMAGE_PROVIDERS: 'openai',
  }));
  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    // Started before the switch: it must pick the new order up without a restart.
    await stack.startWorker();
    user = await signSessionToken(stack.devKeys, { userId: 'ursula' });
    admin = await signSessionToken(stack.devKeys, { userId: 'ada', role: 'admin' });
  });
  after(async () => {
    await groq?.close();
    await openai?.close();
  });

  it('lists every provider with its order and last-hour health', async () => {
    const res = await api(apiUrl, 'GET', '/v1/ai/services/status', { token: user });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.providers.map((p: { name: string }) => p.name), ['groq', 'openai', 'runware', 'offline']);
    const offline = res.body.providers.find((p: { name: string }) => p.name === 'offline');
    assert.equal(offline.configured, true);
    assert.equal(offline.errorRate, null);
    assert.equal(res.body.order.source, 'config');
  });

  it('refuses a switch from a user, validates an admin one', async () => {
    const forbidden = await api(apiUrl, 'POST', '/v1/ai/services/switch', { token: user, body: { text: ['openai'] } });
    assert.equal(forbidden.status, 403);
    const bad = await api(apiUrl, 'POST', '/v1/ai/services/switch', { token: admin, body: { text: ['openai', 'runware'] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'body.text.1');
  });

  it('lets only an admin close the breakers, and records when for the workers', async () => {
    const forbidden = await api(apiUrl, 'POST', '/v1/ai/services/breakers/close', { token: user });
    assert.equal(forbidden.status, 403);
    const before = Date.now();
    const res = await api(apiUrl, 'POST', '/v1/ai/services/breakers/close', { token: admin });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(Date.parse(res.body.breakersClosedAt) >= before - 1000);
    const row = await stack.services.knex('provider_settings').first();
    assert.equal(new Date(row.breakers_closed_at).toISOString(), res.body.breakersClosedAt);
  });

  it('persists an admin switch, and the next book uses the new first provider', async () => {
    const res = await api(apiUrl, 'POST', '/v1/ai/services/switch', { token: admin, body: { text: ['openai', 'groq'] } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.text, ['openai', 'groq']);
    const row = await stack.services.knex('provider_settings').first();
    assert.deepEqual(row.text_order, ['openai', 'groq']);
    const status = await api(apiUrl, 'GET', '/v1/ai/services/status', { token: user });
    assert.equal(status.body.order.source, 'settings');
    assert.deepEqual(status.body.order.text, ['openai', 'groq']);

    const created = await api(apiUrl, 'POST', '/v1/ebooks', { token: user, body: { prompt: 'A clockwork gull', chapterCount: 1 } });
    assert.equal(created.status, 202);
    await waitFor('the book to complete', async () => {
      const s = await api(apiUrl, 'GET', `/v1/ebooks/${created.body.id}/status`, { token: user });
      if (s.body.status === 'failed') assert.fail(JSON.stringify(s.body.error));
      return s.body.status === 'completed';
    }, 100_000);
    assert.equal(groq.callsTo('chat').length, 0, 'groq, first in TEXT_PROVIDERS, was not used');
    assert.ok(openai.callsTo('chat').length >= 2);
    const after = await api(apiUrl, 'GET', '/v1/ai/services/status', { token: user });
    const o = after.body.providers.find((p: { name: string }) => p.name === 'openai');
    assert.ok(o.calls >= 3 && o.lastSuccessAt, JSON.stringify(o));
  });
});
