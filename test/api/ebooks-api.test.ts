/**
 * The API's first cut against the real app, database and Temporal server:
 * authentication, bad input, ownership and cancellation.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startWorker, useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { createProviders } from '../../wiring/providers';

describe('ebook API', function () {
  const stack = useTestStack();
  let url: string;
  let token: string;

  before(async () => {
    ({ url } = await stack.startApi());
    token = await signSessionToken(stack.devKeys, { userId: 'carol' });
  });

  const countBooks = async () => Number((await stack.services.knex('memory_books').count({ n: '*' }))[0].n);
  const countWorkflows = async () => {
    let n = 0;
    for await (const _ of stack.client.workflow.list({ query: `EbookUserId = 'carol'` })) n++;
    return n;
  };

  describe('authentication', () => {
    it('answers 401 problem+json without a token', async () => {
      const r = await api(url, 'GET', '/v1/ebooks/00000000-0000-4000-8000-000000000000');
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.equal(r.body.status, 401);
      assert.ok(r.body.requestId);
    });

    it('answers 401 to a token signed by another key', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const forged = await signSessionToken(
        {
          privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          kid: stack.devKeys.kid,
        },
        { userId: 'carol' },
      );
      const r = await api(url, 'POST', '/v1/ebooks', { token: forged, body: { prompt: 'x' } });
      assert.equal(r.status, 401);
    });

    it('answers 401 to an expired token', async () => {
      const old = Math.floor(Date.now() / 1000) - 7200;
      const expired = await signSessionToken(stack.devKeys, { userId: 'carol', now: old, ttlSeconds: 60 });
      const r = await api(url, 'POST', '/v1/ebooks', { token: expired, body: { prompt: 'x' } });
      assert.equal(r.status, 401);
    });

    it('stops accepting a token that verified once when it expires (verified tokens are remembered only until then)', async function () {
      this.timeout(30_000);
      const token = await signSessionToken(stack.devKeys, { userId: 'carol', ttlSeconds: 2 });
      assert.equal((await api(url, 'GET', '/v1/auth/session', { token })).status, 200);
      assert.equal((await api(url, 'GET', '/v1/auth/session', { token })).status, 200, 'the remembered token');
      // Past its expiry and Clerk's clock-skew allowance (5 s).
      await new Promise((r) => setTimeout(r, 8_500));
      const late = await api(url, 'GET', '/v1/auth/session', { token });
      assert.equal(late.status, 401);
      assert.equal(late.body.reason, 'invalid_token');
    });

    it('answers 401 to garbage in the Authorization header', async () => {
      const r = await api(url, 'GET', '/v1/ebooks/x', { headers: { authorization: 'Bearer not.a.jwt' } });
      assert.equal(r.status, 401);
    });

    it('keeps /healthz and /readyz open', async () => {
      assert.equal((await api(url, 'GET', '/healthz')).status, 200);
      const ready = await api(url, 'GET', '/readyz');
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
      assert.deepEqual(ready.body.checks, { temporal: 'ok', database: 'ok', storage: 'ok' });
    });
  });

  describe('bad input', () => {
    const cases: Array<[string, { raw?: string; body?: unknown }, string]> = [
      ['malformed JSON', { raw: '{"prompt": "a lighthouse",' }, 'body'],
      ['a missing prompt', { body: { chapterCount: 2 } }, 'body.prompt'],
      ['an empty prompt', { body: { prompt: '   ' } }, 'body.prompt'],
      ['an oversized prompt', { body: { prompt: 'x'.repeat(2001) } }, 'body.prompt'],
      ['chapterCount 0', { body: { prompt: 'ok', chapterCount: 0 } }, 'body.chapterCount'],
      ['chapterCount 25', { body: { prompt: 'ok', chapterCount: 25 } }, 'body.chapterCount'],
      ['chapterCount as text', { body: { prompt: 'ok', chapterCount: 'three' } }, 'body.chapterCount'],
      ['chapterCount 2.5', { body: { prompt: 'ok', chapterCount: 2.5 } }, 'body.chapterCount'],
      ['an unknown era', { body: { prompt: 'ok', era: 'disco' } }, 'body.era'],
      ['a prompt that is not a string', { body: { prompt: 42 } }, 'body.prompt'],
    ];
    for (const [name, req, field] of cases) {
      it(`rejects ${name} with 400 naming ${field}, starting nothing`, async () => {
        const [books, flows] = [await countBooks(), await countWorkflows()];
        const r = await api(url, 'POST', '/v1/ebooks', { token, ...req });
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.equal(r.headers.get('content-type'), 'application/problem+json; charset=utf-8');
        assert.ok(r.body.detail.startsWith(field), r.body.detail);
        assert.equal(r.body.errors[0].field, field);
        assert.equal(await countBooks(), books);
        assert.equal(await countWorkflows(), flows);
      });
    }

    it('answers 413 to a body over the limit', async () => {
      const r = await api(url, 'POST', '/v1/ebooks', { token, raw: JSON.stringify({ prompt: 'x'.repeat(100_000) }) });
      assert.equal(r.status, 413);
    });

    it('answers 404 to unknown and malformed ids', async () => {
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
        const r = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token });
        assert.equal(r.status, 404);
        assert.equal(r.body.title, 'Not Found');
      }
    });
  });

  describe('cancellation', () => {
    let stopWorker: () => Promise<void>;
    before(async () => {
      // Slow providers so the book is still being written when the cancel arrives.
      ({ stop: stopWorker } = await startWorker(stack, createProviders({ ...stack.config, offlineProviderDelayMs: 1500 })));
    });
    after(async () => stopWorker?.());

    it('stops the work and marks the book cancelled', async () => {
      const created = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A very long voyage', chapterCount: 6 } });
      assert.equal(created.status, 202);
      const id = created.body.id;
      await waitFor('the outline', async () => {
        const s = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token });
        return s.body.stage === 'chapters';
      });
      const c = await api(url, 'POST', `/v1/ebooks/${id}/cancel`, { token });
      assert.equal(c.status, 202);
      const final = await waitFor('the book to be cancelled', async () => {
        const s = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token });
        return s.body.status === 'cancelled' && s.body;
      });
      assert.equal(final.stage, 'cancelled');
      const desc = await stack.client.workflow.getHandle(created.body.workflowId).describe();
      assert.equal(desc.status.name, 'CANCELLED');
      const book = await api(url, 'GET', `/v1/ebooks/${id}`, { token });
      assert.equal(book.body.pdfUrl, null);
      assert.ok(book.body.chapters.some((ch: { status: string }) => ch.status !== 'done'), 'work stopped before the end');
      const again = await api(url, 'POST', `/v1/ebooks/${id}/cancel`, { token });
      assert.equal(again.status, 409);
    });
  });
});
