/**
 * The authorization matrix, built from the OpenAPI document's operations
 * (api/openapi.ts OPERATIONS), so every /v1 route is checked, including routes
 * added later: an operation without a rule below fails the test.
 *
 * For every /v1 operation but the Clerk webhook: no token → 401; a forged token
 * (right shape, wrong key) and a garbage one → 401; a path naming another user's
 * resource (ebook, story, user) → 404, as if it did not exist; admin-only routes
 * → 403 for a user and neither 401 nor 403 for an admin.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { exportPKCS8, generateKeyPair } from 'jose';
import { useTestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { OPERATIONS } from '../../api/openapi';
import { FILE_KINDS } from '../../api/files';
import { pictureKey } from '../../workflows/story-ai-shared';
import { chaptersJobKey } from '../../workflows/ai-services-shared';

/** Whose resource the path names, hence what another user's request must get. */
type Owner = 'ebook' | 'story' | 'user' | 'image' | 'chapters' | 'none';
interface Rule {
  /** The resource the path's parameter names; 'none' for routes about the caller only. */
  owner: Owner;
  /** Only an admin may call it: 403 for a user. */
  admin?: boolean;
  /** A valid body, so validation (which some routes run first) does not answer before authorization. */
  body?: unknown;
}

/** /v1 operations that take no bearer token (they authenticate otherwise). */
const PUBLIC_V1 = new Set(['POST /v1/auth/clerk/webhook']);

const RULES: Record<string, Rule> = {
  'POST /v1/ebooks': { owner: 'none', body: { prompt: 'A matrix of doors', chapterCount: 1 } },
  'GET /v1/ebooks/{id}': { owner: 'ebook' },
  'PUT /v1/ebooks/{id}': { owner: 'ebook', body: { title: 'Taken' } },
  'DELETE /v1/ebooks/{id}': { owner: 'ebook' },
  'GET /v1/ebooks/{id}/status': { owner: 'ebook' },
  'GET /v1/ebooks/{id}/events': { owner: 'ebook' },
  'POST /v1/ebooks/{id}/events/token': { owner: 'ebook' },
  'POST /v1/ebooks/{id}/cancel': { owner: 'ebook' },
  'GET /v1/ebooks/{id}/outline': { owner: 'ebook' },
  'PUT /v1/ebooks/{id}/outline': { owner: 'ebook', body: { chapters: [{ title: 'Taken', summary: 'Taken.' }] } },
  'POST /v1/ebooks/{id}/outline/revise': { owner: 'ebook', body: { feedback: 'Taken.' } },
  'POST /v1/ebooks/{id}/outline/approve': { owner: 'ebook' },
  'GET /v1/ebooks/{id}/files/{kind}': { owner: 'ebook' },
  'GET /v1/ebooks/{id}/chapters/{n}/image': { owner: 'ebook' },
  'POST /v1/ebooks/{id}/chapters/{n}/regenerate': { owner: 'ebook', body: {} },
  'POST /v1/ebooks/{id}/chapters': { owner: 'ebook', body: {} },
  'POST /v1/ebooks/{id}/illustrations': { owner: 'ebook' },
  'POST /v1/ebooks/{id}/pdf': { owner: 'ebook' },
  'POST /v1/ebooks/{id}/epub': { owner: 'ebook' },
  'POST /v1/ebooks/{id}/publish': { owner: 'ebook' },
  'POST /v1/ebooks/{id}/unpublish': { owner: 'ebook' },
  'GET /v1/users/{userId}/ebooks': { owner: 'user' },
  'GET /v1/users/{userId}/subscription': { owner: 'user' },
  'PUT /v1/users/{userId}/subscription': { owner: 'user', admin: true, body: { tier: 'midnights' } },
  'DELETE /v1/users/{userId}': { owner: 'user', admin: true },
  'POST /v1/stories': { owner: 'none', body: { title: 'Mine', content: 'Once.' } },
  'GET /v1/stories/{id}': { owner: 'story' },
  'PUT /v1/stories/{id}': { owner: 'story', body: { title: 'Taken' } },
  'DELETE /v1/stories/{id}': { owner: 'story' },
  'GET /v1/stories/{id}/analytics': { owner: 'story' },
  'POST /v1/stories/{id}/cancel': { owner: 'story' },
  'GET /v1/stories/{id}/outline': { owner: 'story' },
  'PUT /v1/stories/{id}/outline': { owner: 'story', body: { chapters: [{ title: 'Taken', summary: 'Taken.' }] } },
  'POST /v1/stories/{id}/outline/revise': { owner: 'story', body: { feedback: 'Taken.' } },
  'POST /v1/stories/{id}/outline/approve': { owner: 'story' },
  'GET /v1/stories/{id}/events': { owner: 'story' },
  'POST /v1/stories/{id}/views': { owner: 'story' },
  'GET /v1/users/{userId}/stories': { owner: 'user' },
  'GET /v1/users/{userId}/profile': { owner: 'user' },
  'PUT /v1/users/{userId}/profile': { owner: 'user', body: { name: 'Taken' } },
  'GET /v1/users/{userId}/preferences': { owner: 'user' },
  'PUT /v1/users/{userId}/preferences': { owner: 'user', body: { defaultStyle: 'taken' } },
  'POST /v1/users/{userId}/activity': { owner: 'user', body: { type: 'page_view' } },
  'GET /v1/users/{userId}/activity': { owner: 'user' },
  'GET /v1/users/{userId}/analytics': { owner: 'user' },
  'GET /v1/auth/permissions/{userId}': { owner: 'user' },
  'POST /v1/auth/permissions/check': { owner: 'none', body: { permission: 'create_ebook' } },
  'GET /v1/auth/session': { owner: 'none' },
  'GET /v1/ai/services/status': { owner: 'none' },
  'POST /v1/ai/services/switch': { owner: 'none', admin: true, body: { text: ['offline'] } },
  'POST /v1/ai/services/breakers/close': { owner: 'none', admin: true },
  'POST /v1/stories/generate': { owner: 'none', body: { prompt: 'A matrix of doors' } },
  'POST /v1/stories/{id}/regenerate': { owner: 'story', body: {} },
  'POST /v1/ai/enhance/prompt': { owner: 'none', body: { prompt: 'A matrix of doors' } },
  'POST /v1/ai/generate/image': { owner: 'none', body: { prompt: 'A matrix of doors' } },
  'POST /v1/ai/generate/cover': { owner: 'none', body: { prompt: 'A matrix of doors' } },
  'GET /v1/ai/images/{id}': { owner: 'image' },
  // Sessions (issue 22): about the caller's own session unless an admin names a user.
  'POST /v1/auth/clerk/validate': { owner: 'none', body: { token: 'not.a.jwt' } },
  'GET /v1/auth/sessions': { owner: 'none' },
  'GET /v1/auth/sessions/validate': { owner: 'none' },
  'POST /v1/auth/sessions/create': { owner: 'none', body: {} },
  'DELETE /v1/auth/sessions/destroy': { owner: 'none' },
  // Users for admins (issue 22).
  'GET /v1/auth/users/{userId}': { owner: 'user', admin: true },
  'PUT /v1/auth/users/{userId}': { owner: 'user', admin: true, body: { name: 'Olive' } },
  'DELETE /v1/auth/users/{userId}': { owner: 'user', admin: true },
  // AI services (issue 22).
  'POST /v1/ai/generate/chapters': { owner: 'none', body: { text: 'One.\n\nTwo.', chapterCount: 2 } },
  'GET /v1/ai/chapters/{id}': { owner: 'chapters' },
  'POST /v1/ai/generate/story': { owner: 'none', body: { prompt: 'A matrix of doors' } },
  'POST /v1/ai/enhance/image': { owner: 'none', body: { imageId: '00000000-0000-4000-8000-000000000000', scale: 2 } },
};

/**
 * Rows beyond an operation's own: a path parameter whose values are routes of their own
 * (the file kinds, print and print-cover among them) gets each value checked.
 */
const PATH_VARIANTS: Record<string, Record<string, readonly string[]>> = {
  'GET /v1/ebooks/{id}/files/{kind}': { '{kind}': FILE_KINDS },
};

const v1Operations = OPERATIONS.filter((op) => op.path.startsWith('/v1/')).map((op) => ({
  ...op,
  name: `${op.method.toUpperCase()} ${op.path}`,
}));

describe('authorization matrix (every /v1 operation of the OpenAPI document)', function () {
  this.timeout(300_000);
  const stack = useTestStack();
  let url: string;
  let owner: string;
  let intruder: string;
  let admin: string;
  let forged: string;
  const ids: Record<Exclude<Owner, 'none'>, string> = { ebook: '', story: '', user: 'olive', image: '', chapters: '' };

  before(async () => {
    ({ url } = await stack.startApi());
    owner = await signSessionToken(stack.devKeys, { userId: 'olive' });
    intruder = await signSessionToken(stack.devKeys, { userId: 'mallory' });
    admin = await signSessionToken(stack.devKeys, { userId: 'ada', role: 'admin' });
    // Same claims and key id as a real token, signed with a key the API never saw.
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    forged = await signSessionToken(
      { ...stack.devKeys, privateKeyPem: await exportPKCS8(privateKey) },
      { userId: 'olive', role: 'admin' },
    );
    // Olive's resources: a book (its row; nothing needs to run) and a draft story.
    const profile = await stack.services.repos.profiles.ensure({ clerkUserId: 'olive' });
    await stack.services.repos.profiles.ensure({ clerkUserId: 'mallory' });
    ids.ebook = randomUUID();
    await stack.services.repos.ebooks.create({
      id: ids.ebook,
      userId: profile.id,
      workflowId: `ebook-${ids.ebook}`,
      prompt: 'Olive’s book',
      title: 'Olive’s book',
    });
    const story = await api(url, 'POST', '/v1/stories', { token: owner, body: { title: 'Olive’s draft', content: 'Private.' } });
    assert.equal(story.status, 201);
    ids.story = story.body.id;
    // A picture the AI routes drew for Olive (stored where they store them).
    ids.image = randomUUID();
    await stack.services.storage.put(pictureKey(profile.id, ids.image, 'png'), Buffer.from('not really a png'), {
      contentType: 'image/png',
    });
    // A chapters job of Olive's (stored where the chapters service stores them).
    ids.chapters = randomUUID();
    await stack.services.storage.put(chaptersJobKey(profile.id, ids.chapters), Buffer.from(JSON.stringify({ id: ids.chapters, status: 'running' })));
  });

  /** The operation's path with its parameters filled in: `owner`'s resource, chapter 1, the PDF. */
  const pathOf = (path: string, rule: Rule, userId = ids.user) =>
    path
      .replace('{id}', rule.owner === 'story' ? ids.story : rule.owner === 'image' ? ids.image : rule.owner === 'chapters' ? ids.chapters : ids.ebook)
      .replace('{userId}', userId)
      .replace('{n}', '1')
      .replace('{kind}', 'pdf');

  /** The operation's path, and one more per value of a parameter listed in PATH_VARIANTS. */
  const pathsOf = (op: (typeof v1Operations)[number], rule: Rule): string[] => {
    const paths = [pathOf(op.path, rule)];
    for (const [param, values] of Object.entries(PATH_VARIANTS[op.name] ?? {})) {
      for (const v of values) paths.push(pathOf(op.path.replace(param, v), rule));
    }
    return [...new Set(paths)];
  };

  const call = (op: (typeof v1Operations)[number], token: string | undefined, path: string) => {
    const rule = RULES[op.name];
    const opts: Parameters<typeof api>[3] = { token };
    if (rule?.body !== undefined) opts.body = rule.body;
    else if (op.method === 'post' || op.method === 'put') opts.body = {};
    // The event stream never ends on its own: only its status line is read.
    if (op.path.endsWith('/events')) {
      return fetch(url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then(async (res) => {
        const status = res.status;
        const body = /json/.test(res.headers.get('content-type') ?? '') ? await res.json() : await res.body?.cancel();
        return { status, body, headers: res.headers };
      });
    }
    return api(url, op.method.toUpperCase(), path, opts);
  };

  it('has a rule for every /v1 operation, and only the webhook goes without a token', () => {
    const missing = v1Operations.filter((op) => !PUBLIC_V1.has(op.name) && !RULES[op.name]).map((op) => op.name);
    assert.deepEqual(missing, [], `operations without an authorization rule: add them to RULES in ${__filename}`);
    const unexpectedPublic = v1Operations.filter((op) => op.auth === false && !PUBLIC_V1.has(op.name)).map((op) => op.name);
    assert.deepEqual(unexpectedPublic, [], '/v1 operations documented without a bearer token');
    const stale = Object.keys(RULES).filter((name) => !v1Operations.some((op) => op.name === name));
    assert.deepEqual(stale, [], 'rules for operations the document no longer has');
    // An operation whose own documentation says admins only must be admin-only here.
    for (const op of v1Operations) {
      if (/admin only|not an admin/i.test(`${op.summary} ${op.responses['403'] ?? ''}`)) {
        assert.equal(RULES[op.name]?.admin, true, `${op.name} is documented as admin-only`);
      }
    }
  });

  it('answers 401 without a token, with a forged token and with a garbage token', async () => {
    const failures: string[] = [];
    for (const op of v1Operations.filter((o) => !PUBLIC_V1.has(o.name))) {
      const rule = RULES[op.name] ?? { owner: 'none' };
      for (const path of pathsOf(op, rule)) {
        for (const [label, token] of [
          ['no token', undefined],
          ['forged token', forged],
          ['garbage token', 'not.a.jwt'],
        ] as const) {
          const res = await call(op, token, path);
          if (res.status !== 401) failures.push(`${op.name} (${path}) with ${label}: ${res.status}`);
          else assert.match(res.headers.get('content-type') ?? '', /problem\+json/, `${op.name} ${label}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  it("answers 404 for another user's ebook, story, user or picture, as if it did not exist", async () => {
    const failures: string[] = [];
    for (const op of v1Operations.filter((o) => !PUBLIC_V1.has(o.name))) {
      const rule = RULES[op.name];
      if (!rule || rule.owner === 'none' || rule.admin) continue;
      for (const path of pathsOf(op, rule)) {
        const res = await call(op, intruder, path);
        if (res.status !== 404) failures.push(`${op.name} (${path}): ${res.status} ${JSON.stringify(res.body)}`);
        else if (/^No route/.test(res.body?.detail ?? '')) failures.push(`${op.name} (${path}): no such route`);
      }
    }
    assert.deepEqual(failures, []);
    // Nothing of Olive's changed or went.
    const book = await stack.services.repos.ebooks.get(ids.ebook);
    assert.equal(book?.title, 'Olive’s book');
    assert.equal(book?.visibility, 'private');
    const story = await api(url, 'GET', `/v1/stories/${ids.story}`, { token: owner });
    assert.equal(story.body.title, 'Olive’s draft');
  });

  it('answers 403 to a user on admin-only routes, and neither 401 nor 403 to an admin', async () => {
    const adminOnly = v1Operations.filter((op) => RULES[op.name]?.admin);
    assert.ok(adminOnly.length >= 2, 'the document has admin-only operations');
    const failures: string[] = [];
    for (const op of adminOnly) {
      const rule = RULES[op.name];
      const asUser = await call(op, intruder, pathOf(op.path, rule, 'me'));
      if (asUser.status !== 403) failures.push(`${op.name} as a user: ${asUser.status}`);
      const asAdmin = await call(op, admin, pathOf(op.path, rule));
      if (asAdmin.status === 401 || asAdmin.status === 403) failures.push(`${op.name} as an admin: ${asAdmin.status}`);
    }
    assert.deepEqual(failures, []);
  });
});
