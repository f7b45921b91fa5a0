/**
 * GET /openapi.json: an OpenAPI 3.1 document, built from the validation
 * schemas, that lists exactly the routes the app serves.
 */
import assert from 'node:assert/strict';
import type { Router } from 'express';
import { useTestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { ebookRouter, sharedRouter } from '../../api/routes/ebooks';
import { userRouter } from '../../api/routes/users';
import { storyRouter } from '../../api/routes/stories';
import { profileRouter } from '../../api/routes/profiles';
import { clerkWebhookRouter } from '../../api/routes/webhooks';
import { aiRouter } from '../../api/routes/ai';
import { createBookCache } from '../../api/book-cache';
import { storyGenerationRouter } from '../../api/routes/story-generation';
import { storyReviewRouter } from '../../api/routes/story-review';
import { aiGenerateRouter } from '../../api/routes/ai-generate';
import { sessionRouter } from '../../api/routes/sessions';
import { adminUserRouter } from '../../api/routes/admin-users';
import { aiServiceRouter } from '../../api/routes/ai-services';
import { createSessionControl } from '../../api/services/sessions';
import { createRevocations } from '../../api/session-revocations';
import { clerkSettings } from '../../lib/dev-keys';
import { createLogger } from '../../lib/logger';
import { streamTokens } from '../../api/stream-tokens';

/** "METHOD /path/{param}" for every route a router declares, under a prefix. */
function routesOf(router: Router, prefix: string): string[] {
  const out: string[] = [];
  for (const layer of (router as unknown as { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> }).stack) {
    if (!layer.route) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) {
      if (on && method !== '_all') out.push(`${method.toUpperCase()} ${prefix}${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return out;
}

describe('OpenAPI document', function () {
  const stack = useTestStack();
  let url: string;
  before(async () => {
    ({ url } = await stack.startApi());
  });

  it('is OpenAPI 3.1 with request schemas from the validators', async () => {
    const res = await api(url, 'GET', '/openapi.json');
    assert.equal(res.status, 200);
    const doc = res.body;
    assert.equal(doc.openapi, '3.1.0');
    const create = doc.paths['/v1/ebooks'].post.requestBody.content['application/json'].schema;
    assert.equal(create.type, 'object');
    // A prompt or a storyId, exactly one of them (checked by the validator, named in its problem).
    assert.equal(create.required, undefined);
    assert.equal(create.properties.storyId.format, 'uuid');
    assert.equal(create.properties.prompt.maxLength, 2000);
    assert.equal(create.properties.chapterCount.maximum, 24);
    const ids = new Set<string>();
    for (const [p, ops] of Object.entries<Record<string, { operationId: string; responses: object; parameters?: Array<{ name: string; in: string }> }>>(doc.paths)) {
      for (const op of Object.values(ops)) {
        assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} is unique`);
        ids.add(op.operationId);
        assert.ok(Object.keys(op.responses).length > 0);
        for (const name of [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
          assert.ok(op.parameters?.some((x) => x.in === 'path' && x.name === name), `${p} declares {${name}}`);
        }
      }
    }
  });

  it('lists exactly the routes the app serves', async () => {
    const doc = (await api(url, 'GET', '/openapi.json')).body;
    const documented = Object.entries<Record<string, unknown>>(doc.paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .filter((r) => r.includes(' /v1/'))
      .sort();
    const deps = {
      services: stack.services,
      temporal: stack.client,
      taskQueue: stack.taskQueue,
      chapterConcurrency: 1,
      log: createLogger('t', 'silent'),
    };
    const served = [
      // The book, its steps, publishing and illustrations: one router (api/routes/ebooks/).
      ...routesOf(ebookRouter(deps), '/v1'),
      ...routesOf(userRouter(stack.services), '/v1'),
      ...routesOf(storyRouter(stack.services), '/v1'),
      ...routesOf(profileRouter(stack.services), '/v1'),
      ...routesOf(clerkWebhookRouter({ services: stack.services, log: deps.log }), '/v1'),
      ...routesOf(aiRouter(deps), '/v1'),
      ...routesOf(storyGenerationRouter(deps), '/v1'),
      ...routesOf(storyReviewRouter(deps), '/v1'),
      ...routesOf(aiGenerateRouter(deps), '/v1'),
      ...(() => {
        const auth = clerkSettings(stack.config);
        const revocations = createRevocations(stack.services.repos);
        const sessions = createSessionControl({ repos: stack.services.repos, auth, revocations, log: deps.log });
        return [
          ...routesOf(sessionRouter({ ...deps, auth, revocations, sessions }), '/v1'),
          ...routesOf(adminUserRouter({ ...deps, sessions }), '/v1'),
          ...routesOf(aiServiceRouter(deps), '/v1'),
        ];
      })(),
      ...routesOf(streamTokens(stack.services.repos).router, '/v1'),
    ].sort();
    assert.deepEqual(documented, served);
    const documentedShared = Object.entries<Record<string, unknown>>(doc.paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .filter((r) => r.includes(' /shared/'))
      .sort();
    assert.deepEqual(documentedShared, routesOf(sharedRouter({ ...deps, bookCache: createBookCache() }), '').sort());
    // And the unauthenticated ones answer.
    for (const p of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      assert.notEqual((await api(url, 'GET', p)).status, 404, p);
    }
  });
});
