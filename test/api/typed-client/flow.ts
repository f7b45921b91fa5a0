/**
 * A frontend's program, written only against the generated types of the served
 * /openapi.json (web/src/api-types.ts, by openapi-typescript) and openapi-fetch:
 * it drives one book through the whole flow (create → events → status → book →
 * files → edit → publish → shared → chapter rewrite → step re-run) with no casts.
 * test/api/openapi-contract.test.ts type-checks it with `strict`, runs it against
 * the real engine and checks every answer it records against the document.
 *
 * Environment: API_URL, API_TOKEN, OUT (where the recorded answers go, as JSON).
 */
import { writeFileSync } from 'node:fs';
import createClient from 'openapi-fetch';
import type { components, paths } from '../../../web/src/api-types';

type Status = components['schemas']['Status'];

interface Recorded {
  method: string;
  path: string;
  status: number;
  contentType: string;
  headers: Record<string, string>;
  body: unknown;
  bytes: number;
}

const baseUrl = required('API_URL');
const recorded: Recorded[] = [];
const events: Array<{ event: string; id: number; data: unknown }> = [];

const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${required('API_TOKEN')}` } });
client.use({
  async onResponse({ request, response, schemaPath }) {
    const contentType = response.headers.get('content-type') ?? '';
    // A stream never ends by itself: its events are recorded as they are read.
    const text = contentType.startsWith('text/event-stream') ? '' : await response.clone().text();
    const json = /json/.test(contentType) && text !== '';
    recorded.push({
      method: request.method,
      path: schemaPath,
      status: response.status,
      contentType,
      headers: Object.fromEntries(response.headers.entries()),
      body: json ? JSON.parse(text) : null,
      bytes: text.length,
    });
  },
});

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(`expected: ${what}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function statusOf(id: string): Promise<Status> {
  const { data } = await client.GET('/v1/ebooks/{id}/status', { params: { path: { id } } });
  check(data, 'a status document');
  return data;
}

async function until(id: string, done: (s: Status) => boolean, what: string): Promise<Status> {
  const deadline = Date.now() + 240_000;
  for (;;) {
    const s = await statusOf(id);
    if (done(s)) return s;
    check(Date.now() < deadline, what);
    await sleep(300);
  }
}

type BookEvent = { event: string; id: number; data: unknown };

/** The run an event's data names, if any. */
function runOf(e: BookEvent): unknown {
  return typeof e.data === 'object' && e.data !== null && 'run' in e.data ? e.data.run : undefined;
}

/** Reads a fresh stream of the book (it starts at the latest run) until that run ends; returns its events. */
async function readEvents(id: string): Promise<BookEvent[]> {
  const seen: BookEvent[] = [];
  const { data, response } = await client.GET('/v1/ebooks/{id}/events', { params: { path: { id } }, parseAs: 'stream' });
  check(response.status === 200 && data, 'an event stream');
  const reader = data.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return seen;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
      const event = field('event');
      const data = field('data');
      if (!event || data === undefined) continue;
      const e = { event, id: Number(field('id')), data: JSON.parse(data) };
      events.push(e);
      seen.push(e);
      if (event === 'completed' || event === 'failed' || event === 'cancelled') {
        await reader.cancel();
        return seen;
      }
    }
  }
}

async function main(): Promise<void> {
  const created = await client.POST('/v1/ebooks', {
    body: { prompt: 'A lighthouse keeper teaches a gull to read', chapterCount: 2 },
    params: { header: { 'Idempotency-Key': `contract-${Date.now()}` } },
  });
  check(created.data && created.response.status === 202, '202 Started');
  const id = created.data.id;
  check(created.response.headers.get('location') === `/v1/ebooks/${id}`, 'Location on the book');

  const first = await readEvents(id);
  check(first[0]?.event === 'started' && first.every((e) => runOf(e) === 1), 'the first run starts with `started`, every event of it run 1');
  const done = await until(id, (s) => s.status === 'completed', 'the book completes');
  check(done.fileVersion === 1, 'the first file version');

  const etag = (await client.GET('/v1/ebooks/{id}/status', { params: { path: { id } } })).response.headers.get('etag');
  check(etag, 'an ETag');
  const unchanged = await client.GET('/v1/ebooks/{id}/status', { params: { path: { id }, header: { 'If-None-Match': etag } } });
  check(unchanged.response.status === 304, '304 for the same ETag');

  const book = await client.GET('/v1/ebooks/{id}', { params: { path: { id } } });
  check(book.data && book.data.chapters.length === 2 && book.data.chapters[0].paragraphs.length > 0, 'the book with its text');
  check(book.data.pdfUrl && book.data.epubUrl, 'file URLs');

  for (const kind of ['pdf', 'epub'] as const) {
    const file = await client.GET('/v1/ebooks/{id}/files/{kind}', { params: { path: { id, kind } }, parseAs: 'arrayBuffer' });
    check(file.data && file.data.byteLength > 100, `the ${kind}`);
  }

  const edited = await client.PUT('/v1/ebooks/{id}', { params: { path: { id } }, body: { title: 'The Gull Who Read' } });
  check(edited.data?.title === 'The Gull Who Read', 'the new title');

  const published = await client.POST('/v1/ebooks/{id}/publish', { params: { path: { id } } });
  check(published.data?.shareUrl === `/shared/ebooks/${id}`, 'a share URL');
  const shared = await client.GET('/shared/ebooks/{id}', { params: { path: { id } } });
  check(shared.data && shared.data.chapters.every((c) => c.paragraphs.length > 0), 'the public book');

  const rewrite = await client.POST('/v1/ebooks/{id}/chapters/{n}/regenerate', {
    params: { path: { id, n: 2 } },
    body: { feedback: 'More waves' },
  });
  check(rewrite.data?.status === 'running' && rewrite.data.fromVersion === 1, 'a rewrite started');
  await until(id, (s) => s.fileVersion === 2, 'the rewrite publishes version 2');
  // A fresh stream now starts at the rewrite, not at the first run's `completed`.
  const second = await readEvents(id);
  check(second[0]?.event === 'started' && second.every((e) => runOf(e) === 2), 'a fresh stream starts at run 2');
  check(second.at(-1)?.event === 'completed', 'run 2 ends completed');

  const rerun = await client.POST('/v1/ebooks/{id}/pdf', { params: { path: { id } } });
  check(rerun.data?.step === 'pdf' && rerun.response.headers.get('location') === `/v1/ebooks/${id}`, 'a step re-run started');
  const after = await until(id, (s) => s.revision?.status === 'completed', 'the re-run publishes');
  check(after.fileVersion === 3, 'version 3');
  const third = await readEvents(id);
  check(third[0]?.event === 'started' && third.every((e) => runOf(e) === 3), 'a fresh stream starts at run 3');
  // The run's terminal event comes last: after the revision's own `completed` report.
  const revisionDone = (e: BookEvent) =>
    e.event === 'revision' && typeof e.data === 'object' && e.data !== null && 'status' in e.data && e.data.status === 'completed';
  check(third.at(-1)?.event === 'completed' && third.at(-2) !== undefined && revisionDone(third[third.length - 2]), '`completed` after the last revision event');

  // Refusals are problems too.
  const missing = await client.GET('/v1/ebooks/{id}', { params: { path: { id: '00000000-0000-4000-8000-000000000000' } } });
  check(missing.error?.status === 404, 'a 404 problem');
  const late = await client.POST('/v1/ebooks/{id}/cancel', { params: { path: { id } } });
  check(late.error?.status === 409 && late.error.bookStatus === 'completed', 'a 409 naming the book status');

  const mine = await client.GET('/v1/users/{userId}/ebooks', { params: { path: { userId: 'me' }, query: { limit: 5 } } });
  check(mine.data?.items.some((b) => b.id === id), 'the book in my list');
  const plan = await client.GET('/v1/users/{userId}/subscription', { params: { path: { userId: 'me' } } });
  check(plan.data && plan.data.usedThisPeriod >= 1, 'my plan');
  const profile = await client.GET('/v1/users/{userId}/profile', { params: { path: { userId: 'me' } } });
  check(profile.data?.userId, 'my profile');

  writeFileSync(required('OUT'), JSON.stringify({ id, recorded, events }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
