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
      if (!media[1].schema?.$ref) return [];
      const validate = schema(media[1].schema.$ref);
      return validate(r.body) ? [] : [`${r.method} ${r.path} ${r.status}: ${ajv.errorsText(validate.errors)}`];
    },
    event(e: unknown): string[] {
      const validate = schema('#/components/schemas/EbookEvent');
      return validate(e) ? [] : [`event ${JSON.stringify(e).slice(0, 200)}: ${ajv.errorsText(validate.errors)}`];
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
});
