/**
 * /openapi.json is the contract a frontend builds on, tried as one would:
 * - the committed generated types (web/src/api-types.ts) are what openapi-typescript
 *   makes of the served document today;
 * - a program written only against them and openapi-fetch type-checks with `strict`,
 *   has no casts, and drives a book through the real engine;
 * - every answer that program received, and every event of the book's stream, is
 *   valid against the document (status documented, media type, body schema);
 * - redocly lints the document clean.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { useTestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { API_TYPES_FILE, generateApiTypes } from '../../scripts/api-types';
import { eventComponentName } from '../../api/schemas/events';

const run = promisify(execFile);
const root = path.join(__dirname, '..', '..');
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);
const FLOW = path.join(__dirname, 'typed-client', 'flow.ts');

interface Recorded {
  method: string;
  path: string;
  status: number;
  contentType: string;
  headers: Record<string, string>;
  body: unknown;
  bytes: number;
}

/** Checks answers against the document's schemas (OpenAPI 3.1 schemas are JSON Schema 2020-12). */
function validatorOf(doc: any) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  // The components as one schema, so `#/components/schemas/X` references resolve inside it.
  ajv.addSchema({ $id: 'doc', components: doc.components }, 'doc');
  const schema = (ref: string) => {
    const v = ajv.getSchema(`doc${ref}`);
    assert.ok(v, `no schema ${ref}`);
    return v;
  };
  return {
    answer(r: Recorded): string[] {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      if (!op) return [`${r.method} ${r.path} is not documented`];
      const documented = op.responses[String(r.status)];
      if (!documented) return [`${r.method} ${r.path} ${r.status} is not documented`];
      if (!documented.content) return r.bytes === 0 ? [] : [`${r.method} ${r.path} ${r.status}: a body where none is documented`];
      const type = r.contentType.split(';')[0];
      const media = Object.entries<any>(documented.content).find(([t]) => t === type || (t.endsWith('/*') && type.startsWith(t.slice(0, -1))));
      if (!media) return [`${r.method} ${r.path} ${r.status}: ${type} is not documented (${Object.keys(documented.content)})`];
      // A stream's schema is one event's: its events are checked one by one (`event` below).
      if (!media[1].schema?.$ref || type === 'text/event-stream') return [];
      const validate = schema(media[1].schema.$ref);
      return validate(r.body) ? [] : [`${r.method} ${r.path} ${r.status}: ${ajv.errorsText(validate.errors)}`];
    },
    /** An event as read (id a number, data parsed): as sent, it is an EbookEvent, and its data its type's payload. */
    event(e: unknown): string[] {
      const { event, id, data } = e as { event: string; id: number; data: unknown };
      const sent = { event, id: String(id), data: JSON.stringify(data) };
      const validate = schema('#/components/schemas/EbookEvent');
      if (!validate(sent)) return [`event ${JSON.stringify(sent).slice(0, 200)}: ${ajv.errorsText(validate.errors)}`];
      const payload = ajv.getSchema(`doc#/components/schemas/${eventComponentName(event)}`);
      if (!payload) return [`event ${event} has no payload schema`];
      return payload(data) ? [] : [`event ${event} ${JSON.stringify(data).slice(0, 200)}: ${ajv.errorsText(payload.errors)}`];
    },
  };
}

describe('OpenAPI contract, as a frontend uses it', function () {
  this.timeout(600_000);
  const stack = useTestStack();
  let url: string;
  let doc: any;
  let dir: string;

  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
    doc = (await api(url, 'GET', '/openapi.json')).body;
    dir = mkdtempSync(path.join(os.tmpdir(), 'contract-'));
    await stack.services.repos.profiles.ensure({ clerkUserId: 'fran' });
    await stack.services.repos.profiles.setSubscription('fran', 'eras_tour');
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the committed generated types are what openapi-typescript makes of the served document', () => {
    assert.equal(
      generateApiTypes(doc),
      readFileSync(API_TYPES_FILE, 'utf8'),
      'web/src/api-types.ts is stale: run `npm run api:types`',
    );
  });

  it('lints clean with redocly', async () => {
    const file = path.join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const { stdout, stderr } = await run(bin('redocly'), ['lint', file, '--config', path.join(root, 'redocly.yaml'), '--format', 'summary'], {
      cwd: root,
    }).catch((err: { stdout: string; stderr: string }) => assert.fail(`redocly lint failed:\n${err.stdout}\n${err.stderr}`));
    assert.match(stdout + stderr, /Your API description is valid/);
    // The summary lists each rule broken as "warning <rule>: n" or "error <rule>: n".
    assert.doesNotMatch(stdout + stderr, /^(warning|error) /m, stdout + stderr);
  });

  it('a client generated from it type-checks with strict and drives a book with no casts; every answer and event matches the document', async () => {
    // The code without its comments (which may well say "as").
    const code = readFileSync(FLOW, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    assert.doesNotMatch(code.replace(/\bas const\b/g, ''), /\bas\s+[A-Za-z{[(]|<any>|: any\b|@ts-/, 'no casts, no any, no ts directives');
    await run(
      bin('tsc'),
      ['--noEmit', '--strict', '--target', 'ES2022', '--module', 'preserve', '--moduleResolution', 'bundler', '--lib', 'ES2022,DOM,DOM.Iterable', '--types', 'node', '--skipLibCheck', FLOW],
      { cwd: root },
    ).catch((err: { stdout: string }) => assert.fail(`the client does not type-check:\n${err.stdout}`));

    const out = path.join(dir, 'flow.json');
    const token = await signSessionToken(stack.devKeys, { userId: 'fran' });
    await run(bin('tsx'), [FLOW], { cwd: root, env: { ...process.env, API_URL: url, API_TOKEN: token, OUT: out }, timeout: 500_000 }).catch(
      (err: { stdout: string; stderr: string }) => assert.fail(`the client's flow failed:\n${err.stdout}\n${err.stderr}`),
    );
    const { recorded, events } = JSON.parse(readFileSync(out, 'utf8')) as { recorded: Recorded[]; events: unknown[] };

    const v = validatorOf(doc);
    const problems = [...recorded.flatMap((r) => v.answer(r)), ...events.flatMap((e) => v.event(e))];
    assert.deepEqual(problems, []);
    // And the checks can fail: a status document without its fields, an undocumented status, a bad event.
    const status = recorded.find((r) => r.path === '/v1/ebooks/{id}/status' && r.status === 200)!;
    assert.notDeepEqual(v.answer({ ...status, body: { id: 'x' } }), []);
    assert.notDeepEqual(v.answer({ ...status, status: 418 }), []);
    assert.notDeepEqual(v.event({ event: 'completed', id: 1, data: { version: 'one' } }), []);
    // The flow covered what it says it did.
    const seen = new Set(recorded.map((r) => `${r.method} ${r.path} ${r.status}`));
    for (const expected of [
      'POST /v1/ebooks 202',
      'GET /v1/ebooks/{id}/events 200',
      'GET /v1/ebooks/{id}/status 200',
      'GET /v1/ebooks/{id}/status 304',
      'GET /v1/ebooks/{id} 200',
      'GET /v1/ebooks/{id}/files/{kind} 200',
      'PUT /v1/ebooks/{id} 200',
      'POST /v1/ebooks/{id}/publish 200',
      'GET /shared/ebooks/{id} 200',
      'POST /v1/ebooks/{id}/chapters/{n}/regenerate 202',
      'POST /v1/ebooks/{id}/pdf 202',
      'GET /v1/ebooks/{id} 404',
      'POST /v1/ebooks/{id}/cancel 409',
    ]) {
      assert.ok(seen.has(expected), `the flow saw ${expected}`);
    }
    const types = new Set(events.map((e) => (e as { event: string }).event));
    for (const t of ['stage', 'outline', 'chapter.written', 'completed']) assert.ok(types.has(t), `the stream had ${t}`);
  });

  it('every answer of the story and AI routes matches the document (status, media type, body schema)', async () => {
    const user = await signSessionToken(stack.devKeys, { userId: 'fran' });
    const admin = await signSessionToken(stack.devKeys, { userId: 'fran-admin', role: 'admin' });
    const recorded: Recorded[] = [];
    /** One call, recorded under its documented path. */
    const call = async (method: string, documented: string, path: string, token: string, body?: unknown) => {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      const contentType = res.headers.get('content-type') ?? '';
      const parsed = /json/.test(contentType) && bytes.length ? JSON.parse(bytes.toString('utf8')) : undefined;
      recorded.push({ method, path: documented, status: res.status, contentType, headers: Object.fromEntries(res.headers), body: parsed, bytes: bytes.length });
      return { status: res.status, body: parsed, location: res.headers.get('location') };
    };
    const until = async <T>(what: string, fn: () => Promise<T | undefined>): Promise<T> => {
      for (let i = 0; i < 600; i++) {
        const v = await fn();
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 500));
      }
      return assert.fail(`timed out waiting for ${what}`);
    };

    // Stories by hand.
    const made = await call('POST', '/v1/stories', '/v1/stories', user, { title: 'Tide notes', content: 'The sea came in.\n\nThe sea went out.' });
    assert.equal(made.status, 201);
    const sid = made.body.id as string;
    await call('GET', '/v1/stories/{id}', `/v1/stories/${sid}`, user);
    await call('PUT', '/v1/stories/{id}', `/v1/stories/${sid}`, user, { status: 'completed', metadata: { tag: 'sea' } });
    await call('POST', '/v1/stories/{id}/views', `/v1/stories/${sid}/views`, user);
    await call('GET', '/v1/stories/{id}/analytics', `/v1/stories/${sid}/analytics`, user);
    await call('GET', '/v1/users/{userId}/stories', '/v1/users/me/stories', user);
    // Stories by the engine: a run, its storyline review, a rewrite, a cancel.
    const generated = await call('POST', '/v1/stories/generate', '/v1/stories/generate', user, { prompt: 'A heron that keeps a lighthouse', chapterCount: 2, review: 'outline' });
    assert.equal(generated.status, 202, JSON.stringify(generated.body));
    const gid = generated.body.id as string;
    await until('the storyline review', async () => {
      const s = await call('GET', '/v1/stories/{id}', `/v1/stories/${gid}`, user);
      return s.body.generation?.stage === 'outline_review' ? true : undefined;
    });
    const storyline = await call('GET', '/v1/stories/{id}/outline', `/v1/stories/${gid}/outline`, user);
    assert.equal(storyline.status, 200, JSON.stringify(storyline.body));
    const edited = await call('PUT', '/v1/stories/{id}/outline', `/v1/stories/${gid}/outline`, user, {
      title: 'The Heron Keeper',
      chapters: storyline.body.chapters.map((c: { title: string; summary: string }) => ({ title: c.title, summary: c.summary })),
    });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    assert.equal((await call('POST', '/v1/stories/{id}/outline/approve', `/v1/stories/${gid}/outline/approve`, user)).status, 200);
    await until('the generated story', async () => {
      const s = await call('GET', '/v1/stories/{id}', `/v1/stories/${gid}`, user);
      if (s.body.status === 'failed') assert.fail(JSON.stringify(s.body.generation));
      return s.body.status === 'completed' ? true : undefined;
    });
    assert.equal((await call('POST', '/v1/stories/{id}/regenerate', `/v1/stories/${gid}/regenerate`, user, { feedback: 'More fog.' })).status, 202);
    const cancel = await call('POST', '/v1/stories/{id}/cancel', `/v1/stories/${gid}/cancel`, user);
    assert.ok([202, 409].includes(cancel.status));
    assert.equal((await call('POST', '/v1/ai/generate/story', '/v1/ai/generate/story', user, { prompt: 'A kite that will not come down', chapterCount: 1 })).status, 202);

    // The AI routes a writing page calls.
    assert.equal((await call('POST', '/v1/ai/enhance/prompt', '/v1/ai/enhance/prompt', user, { prompt: 'a fox and a boat' })).status, 200);
    const picture = await call('POST', '/v1/ai/generate/image', '/v1/ai/generate/image', user, { prompt: 'A red kite over a hill' });
    assert.equal(picture.status, 200, JSON.stringify(picture.body));
    assert.equal((await call('POST', '/v1/ai/generate/cover', '/v1/ai/generate/cover', user, { prompt: 'A harbour at dusk', title: 'Harbour' })).status, 200);
    assert.equal((await call('POST', '/v1/ai/enhance/image', '/v1/ai/enhance/image', user, { imageId: picture.body.id, scale: 2 })).status, 200);
    assert.equal((await call('GET', '/v1/ai/images/{id}', `/v1/ai/images/${picture.body.id}`, user)).status, 200);
    const job = await call('POST', '/v1/ai/generate/chapters', '/v1/ai/generate/chapters', user, { text: 'One.\n\nTwo.\n\nThree.', chapterCount: 2 });
    assert.equal(job.status, 202, JSON.stringify(job.body));
    await until('the chapters job', async () => {
      const j = await call('GET', '/v1/ai/chapters/{id}', `/v1/ai/chapters/${job.body.id}`, user);
      return j.body.status === 'running' ? undefined : true;
    });
    await call('GET', '/v1/ai/services/status', '/v1/ai/services/status', user);
    assert.equal((await call('POST', '/v1/ai/services/switch', '/v1/ai/services/switch', admin, { text: ['offline'] })).status, 200);
    assert.equal((await call('POST', '/v1/ai/services/breakers/close', '/v1/ai/services/breakers/close', admin)).status, 200);
    // And their problems.
    assert.equal((await call('GET', '/v1/stories/{id}', `/v1/stories/${gid.replace(/.$/, '0')}`, user)).status, 404);

    const v = validatorOf(doc);
    assert.deepEqual(recorded.flatMap((r) => v.answer(r)), []);
    // Every 2xx of these routes names its schema: none is a body the document leaves open.
    for (const r of recorded.filter((x) => x.status < 300 && /json/.test(x.contentType))) {
      const documented = doc.paths[r.path][r.method.toLowerCase()].responses[String(r.status)];
      assert.ok(documented.content['application/json'].schema?.$ref, `${r.method} ${r.path} ${r.status} has a schema`);
    }
    // The check can fail: a story without its fields, a picture with a wrong type.
    const story = recorded.find((r) => r.path === '/v1/stories/{id}' && r.status === 200)!;
    assert.notDeepEqual(v.answer({ ...story, body: { ...(story.body as object), words: 'many' } }), []);
    const drawn = recorded.find((r) => r.path === '/v1/ai/generate/image')!;
    assert.notDeepEqual(v.answer({ ...drawn, body: { ...(drawn.body as object), width: undefined } }), []);
  });
});
