/**
 * The HTTP rules every route follows (api/http-rules.ts, api/rate-limit.ts, CORS
 * in api/app.ts): unknown fields refused by name on every body, 415 for a body
 * that is not JSON, 405 with Allow for a served path asked with another method,
 * gzip and brotli but never for event streams, the IETF RateLimit fields (on the
 * 429 too), CORS that exposes the headers a page needs and refuses a stranger's
 * preflight before auth and limits.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { createTestStack, startApi, type TestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

/** A raw request (fetch would decompress and hide Content-Encoding). */
function raw(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url + path, { headers }, (res) => {
      let bytes = 0;
      // An event stream never ends: its head is all this needs.
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        res.destroy();
        resolve({ status: res.statusCode!, headers: res.headers, bytes });
        return;
      }
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, bytes }));
    });
    req.on('error', reject);
  });
}

describe('HTTP rules', function () {
  let stack: TestStack;
  let url: string;
  let stop: () => Promise<void>;
  let token: string;
  const page = 'https://books.example';

  before(async () => {
    stack = await createTestStack({ RATE_LIMIT_USER_PER_MINUTE: '8', RATE_LIMIT_IP_PER_MINUTE: '1000', CORS_ORIGINS: page });
    ({ url, stop } = await startApi(stack));
    token = await signSessionToken(stack.devKeys, { userId: 'hal' });
  });
  after(async () => {
    await stop?.();
    await stack?.close();
  });

  it('refuses unknown fields by name on POST /v1/ebooks, as on the other routes', async () => {
    const r = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A quiet harbour', bogus: 1 } });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.deepEqual(r.body.errors.map((e: { field: string }) => e.field), ['body.bogus']);
    const doc = (await api(url, 'GET', '/openapi.json')).body;
    for (const [p, ops] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        const schema = op.requestBody?.content['application/json'].schema;
        if (schema) assert.equal(schema.additionalProperties, false, `${m} ${p} refuses unknown fields`);
      }
    }
  });

  it('answers 415 to a body that is not JSON', async () => {
    const r = await api(url, 'POST', '/v1/stories/generate', { token, raw: 'a prompt', headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 415);
    assert.equal(r.body.status, 415);
    assert.match(r.body.detail, /application\/json/);
  });

  it('answers 405 with Allow to a served path asked with another method', async () => {
    const r = await api(url, 'PATCH', '/v1/ebooks/00000000-0000-4000-8000-000000000000', { token, body: {} });
    assert.equal(r.status, 405);
    assert.equal(r.body.status, 405);
    assert.deepEqual(r.headers.get('allow')!.split(', ').sort(), ['DELETE', 'GET', 'HEAD', 'PUT']);
    assert.equal((await api(url, 'GET', '/v1/nothing-here', { token })).status, 404, 'an unknown path is still a 404');
  });

  it('compresses JSON with brotli or gzip, and not event streams', async () => {
    const br = await raw(url, '/openapi.json', { 'accept-encoding': 'br' });
    assert.equal(br.headers['content-encoding'], 'br');
    const gz = await raw(url, '/openapi.json', { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    const plain = await raw(url, '/openapi.json', {});
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.ok(gz.bytes < plain.bytes / 3, `${gz.bytes} of ${plain.bytes} bytes`);

    const created = await stack.services.repos.profiles.ensure({ clerkUserId: 'hal' });
    const id = '11111111-1111-4111-8111-111111111111';
    await stack.services.repos.ebooks.create({ id, userId: created.id, workflowId: `ebook-${id}`, prompt: 'p', title: 't' });
    const events = await raw(url, `/v1/ebooks/${id}/events`, { 'accept-encoding': 'gzip, br', authorization: `Bearer ${token}` });
    assert.equal(events.status, 200);
    assert.equal(events.headers['content-encoding'], undefined);
  });

  it('sends the RateLimit fields, on the 429 too; CORS exposes them; a stranger’s preflight costs nothing', async () => {
    const other = await signSessionToken(stack.devKeys, { userId: 'ida' });
    const first = await api(url, 'GET', '/v1/auth/session', { token: other, headers: { origin: page } });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('ratelimit-limit'), '8');
    assert.equal(first.headers.get('ratelimit-policy'), '8;w=60');
    assert.ok(Number(first.headers.get('ratelimit-reset')) <= 60);
    const exposed = first.headers.get('access-control-expose-headers')!;
    for (const h of ['Content-Disposition', 'RateLimit-Remaining', 'RateLimit-Reset', 'Location', 'ETag']) assert.ok(exposed.includes(h), h);

    // Preflights from an origin not on the list: refused before auth and limits.
    for (let i = 0; i < 12; i++) {
      const pre = await fetch(url + '/v1/auth/session', {
        method: 'OPTIONS',
        headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'GET' },
      });
      assert.equal(pre.status, 403);
      assert.equal(pre.headers.get('access-control-allow-origin'), null);
      assert.equal(pre.headers.get('ratelimit-remaining'), null);
    }
    let last = first;
    for (let i = 0; i < 8 && last.status === 200; i++) last = await api(url, 'GET', '/v1/auth/session', { token: other });
    assert.equal(last.status, 429);
    assert.equal(last.body.status, 429);
    assert.equal(last.headers.get('ratelimit-remaining'), '0');
    assert.equal(last.headers.get('ratelimit-limit'), '8');
    assert.ok(Number(last.headers.get('retry-after')) >= 1);
  });
});
