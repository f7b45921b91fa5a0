/**
 * Requests a fuzzer sends: NUL and lone surrogates anywhere in a request (JSON body at
 * any depth, object keys, query, path segments) are a 400 problem naming the field, and
 * nothing is stored (before, PostgreSQL refused them deep inside the route and the
 * caller got a 500); a method the document does not describe is a 405 with `Allow`.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { createTestStack, startApi, type TestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

describe('NUL and lone surrogates in requests', function () {
  let stack: TestStack;
  let url: string;
  let stop: () => Promise<void>;
  let amy: string;
  let admin: string;

  before(async () => {
    stack = await createTestStack();
    ({ url, stop } = await startApi(stack));
    amy = await signSessionToken(stack.devKeys, { userId: 'amy', role: 'user' });
    admin = await signSessionToken(stack.devKeys, { userId: 'root', role: 'admin' });
  });
  after(async () => {
    await stop?.();
    await stack?.close();
  });

  const refused = (r: { status: number; headers: Headers; body: any }, field: string, what: RegExp) => {
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.equal(r.body.errors[0].field, field);
    assert.match(r.body.errors[0].message, what);
    assert.ok(r.body.detail.startsWith(`${field}: `));
  };
  const NUL = /NUL/;
  const SURROGATE = /surrogate/;

  it('POST /v1/stories: nested metadata and promptData, keys and plain fields; nothing is stored', async () => {
    const base = { title: 'A title', content: 'Some text.' };
    const cases: Array<[unknown, string, RegExp]> = [
      [{ ...base, metadata: { tags: { first: 'a\u0000b' } } }, 'body.metadata.tags.first', NUL],
      [{ ...base, metadata: { list: ['fine', '\ud800'] } }, 'body.metadata.list.1', SURROGATE],
      [{ ...base, metadata: { deep: [{ x: [{ y: 'tail \udc00' }] }] } }, 'body.metadata.deep.0.x.0.y', SURROGATE],
      [{ ...base, promptData: { 'k\u0000': 1 } }, 'body.promptData.k\u0000', NUL],
      [{ ...base, title: 'Bad\u0000title' }, 'body.title', NUL],
      // A lone low surrogate used to be stored as U+FFFD: silently changed text.
      [{ ...base, content: 'broken \udc00 text' }, 'body.content', SURROGATE],
    ];
    for (const [body, field, what] of cases) {
      refused(await api(url, 'POST', '/v1/stories', { token: amy, body }), field, what);
    }
    // The same in hand-written JSON escapes, as a client that builds JSON itself sends it.
    refused(
      await api(url, 'POST', '/v1/stories', { token: amy, raw: '{"title":"t","content":"c","metadata":{"a":{"b":"\\u0000"}}}' }),
      'body.metadata.a.b',
      NUL,
    );
    const list = await api(url, 'GET', '/v1/users/me/stories', { token: amy });
    assert.equal(list.status, 200);
    assert.equal(list.body.items.length, 0);

    // Paired surrogates (emoji) and other control characters are text, and are kept.
    const ok = await api(url, 'POST', '/v1/stories', {
      token: amy,
      body: { ...base, metadata: { mood: 'sunny 😀', note: 'tab\there' } },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.metadata, { mood: 'sunny 😀', note: 'tab\there' });
  });

  it('POST /v1/users/{id}/activity: nested data and keys; nothing is recorded', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ type: 'search', data: { q: 'x\u0000' } }, 'body.data.q', NUL],
      [{ type: 'search', data: { '\u0000': 1 } }, 'body.data.\u0000', NUL],
      [{ type: 'feedback', data: { nested: { list: [1, '\ud83d'] } } }, 'body.data.nested.list.1', SURROGATE],
    ];
    for (const [body, field, what] of cases) {
      refused(await api(url, 'POST', '/v1/users/me/activity', { token: amy, body }), field, what);
      refused(await api(url, 'POST', '/v1/users/amy/activity', { token: admin, body }), field, what);
    }
    const listed = await api(url, 'GET', '/v1/users/me/activity', { token: amy });
    assert.equal(listed.status, 200);
    assert.equal(listed.body.items.filter((a: { type: string }) => a.type === 'search' || a.type === 'feedback').length, 0);
  });

  it('path parameters and query values: named after the template, even when they do not decode', async () => {
    refused(await api(url, 'GET', '/v1/users/a%00b/profile', { token: admin }), 'params.userId', NUL);
    refused(await api(url, 'GET', '/v1/users/a%FFb/profile', { token: admin }), 'params.userId', /UTF-8/);
    // An encoded lone surrogate is not UTF-8 either.
    refused(await api(url, 'GET', '/v1/stories/%ED%A0%80', { token: amy }), 'params.id', /UTF-8/);
    refused(await api(url, 'DELETE', '/v1/ebooks/x%00', { token: amy }), 'params.id', NUL);
    refused(await api(url, 'GET', '/v1/ebooks/abc/chapters/1%00/image', { token: amy }), 'params.n', NUL);
    refused(await api(url, 'GET', '/shared/ebooks/a%00b'), 'params.id', NUL);
    refused(await api(url, 'GET', '/v1/users/me/stories?cursor=a%00b', { token: amy }), 'query.cursor', NUL);
    refused(await api(url, 'GET', '/nowhere/a%00', { token: amy }), 'path', NUL);
    // In a body field that names a user, too.
    refused(
      await api(url, 'POST', '/v1/auth/permissions/check', { token: admin, body: { permission: 'admin', userId: 'a\u0000' } }),
      'body.userId',
      NUL,
    );
    // Ordinary ids still reach the routes.
    assert.equal((await api(url, 'GET', '/v1/users/nobody/profile', { token: admin })).status, 404);
    assert.equal((await api(url, 'GET', '/v1/users/me/stories?limit=5', { token: amy })).status, 200);
  });

  it('methods the document does not describe: 405 with Allow; OPTIONS answers from the document', async () => {
    // fetch refuses TRACE, so node:http sends it.
    const trace = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const r = http.request(`${url}/v1/stories/00000000-0000-4000-8000-000000000000/cancel`, {
        method: 'TRACE',
        headers: { authorization: `Bearer ${amy}` },
      });
      r.on('response', (res) => resolve(res.resume()));
      r.on('error', reject);
      r.end();
    });
    assert.equal(trace.statusCode, 405);
    assert.equal(trace.headers.allow, 'POST');
    assert.match(trace.headers['content-type'] ?? '', /problem\+json/);
    const patch = await api(url, 'PATCH', '/v1/stories/some-id', { token: amy, body: {} });
    assert.equal(patch.status, 405);
    assert.equal(patch.headers.get('allow'), 'DELETE, GET, HEAD, PUT');
    // A literal path wins over a parameter: /v1/stories/generate is not /v1/stories/{id}.
    const options = await fetch(`${url}/v1/stories/generate`, { method: 'OPTIONS' });
    assert.equal(options.status, 204);
    assert.equal(options.headers.get('allow'), 'OPTIONS, POST');
    // Paths the API does not describe stay 404.
    assert.equal((await api(url, 'PATCH', '/v1/nothing-here', { token: amy })).status, 404);
  });
});
