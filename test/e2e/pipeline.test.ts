/**
 * The whole pipeline through HTTP against the real services: token → POST →
 * status reaches `completed` → both files download and pass the validators.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { useTestStack } from '../helpers/stack';
import { api, exec, waitFor } from '../helpers/http';
import { epubcheck, epubcheckSummary } from '../helpers/validators';
import { signSessionToken } from '../../lib/tokens';

const ROOT = path.resolve(__dirname, '..', '..');

describe('ebook pipeline end to end (HTTP → Temporal → files)', function () {
  const stack = useTestStack();
  let apiUrl: string;
  let alice: string;

  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    await stack.startWorker();
    // The token comes from the real CLI, as a user would get it.
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', 'scripts/token.ts', 'alice'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: stack.dataDir },
    });
    alice = stdout.trim();
    // Two books in this file: more than the free plan's one a month.
    await stack.services.repos.profiles.ensure({ clerkUserId: 'alice' });
    await stack.services.repos.profiles.setSubscription('alice', 'midnights');
    assert.match(alice, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'the token CLI prints one JWT alone');
  });

  it('writes, illustrates, renders and publishes a book', async () => {
    const prompt = 'A lighthouse keeper in 1920s Lisbon befriends a clockwork gull';
    const created = await api(apiUrl, 'POST', '/v1/ebooks', {
      token: alice,
      body: { prompt, chapterCount: 3, era: 'folklore-evermore', style: 'watercolour' },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id, workflowId, status } = created.body;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(status, 'queued');
    assert.equal(created.headers.get('location'), `/v1/ebooks/${id}`);
    assert.ok(workflowId.includes(id), 'the workflow id names the book');

    const stages: string[] = [];
    const final = await waitFor('the book to complete', async () => {
      const s = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token: alice });
      assert.equal(s.status, 200);
      assert.ok(s.body.progress >= 0 && s.body.progress <= 1);
      if (stages.at(-1) !== s.body.stage) stages.push(s.body.stage);
      if (s.body.status === 'failed') assert.fail(`book failed: ${JSON.stringify(s.body.error)}`);
      return s.body.status === 'completed' && s.body;
    });
    assert.equal(final.progress, 1);
    assert.equal(final.stage, 'completed');
    assert.ok(final.offline, 'offline providers are named as such in the status');
    assert.ok(stages.length >= 2, `the stage moved: ${stages.join(' → ')}`);

    const book = await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token: alice });
    assert.equal(book.status, 200);
    assert.ok(book.body.title && book.body.title !== 'Untitled book');
    assert.equal(book.body.chapters.length, 3);
    for (const c of book.body.chapters) {
      assert.equal(c.status, 'done');
      assert.ok(c.paragraphs.length > 0 && c.words > 50, `chapter ${c.index} has text`);
      assert.equal(c.textProvider, 'offline');
      assert.equal(c.imageProvider, 'offline');
    }

    const pdf = await download(book.body.pdfUrl, 'application/pdf');
    const epub = await download(book.body.epubUrl, 'application/epub+zip');
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    assert.equal(epub.subarray(30, 38).toString(), 'mimetype', 'mimetype is the first zip entry');

    const dir = await fs.mkdtemp(path.join(stack.dataDir, 'out-'));
    const pdfFile = path.join(dir, 'book.pdf');
    const epubFile = path.join(dir, 'book.epub');
    await fs.writeFile(pdfFile, pdf);
    await fs.writeFile(epubFile, epub);
    await exec('qpdf', ['--check', pdfFile]);
    const { stdout: text } = await exec('pdftotext', ['-enc', 'UTF-8', pdfFile, '-']);
    const flat = text.replace(/\s+/g, ' ');
    for (const c of book.body.chapters) {
      assert.ok(flat.includes(c.title), `pdftotext finds the chapter title "${c.title}"`);
    }
    const check = await epubcheck(epubFile);
    assert.equal(check.checker.nFatal + check.checker.nError, 0, epubcheckSummary(check));

    // Another user's book does not exist for them, files and events included.
    const bob = await signSessionToken(stack.devKeys, { userId: 'bob' });
    for (const p of [`/v1/ebooks/${id}`, `/v1/ebooks/${id}/status`, `/v1/ebooks/${id}/files/pdf`, `/v1/ebooks/${id}/events`]) {
      const r = await api(apiUrl, 'GET', p, { token: bob });
      assert.equal(r.status, 404, p);
      assert.equal(r.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    }
    assert.equal((await api(apiUrl, 'POST', `/v1/ebooks/${id}/cancel`, { token: bob })).status, 404);

    // The operator's view: one workflow named after the book, searchable by book, user and stage.
    const handle = stack.client.workflow.getHandle(workflowId);
    const desc = await handle.describe();
    assert.equal(desc.status.name, 'COMPLETED');
    assert.deepEqual(desc.searchAttributes.EbookId, [id]);
    assert.deepEqual(desc.searchAttributes.EbookUserId, ['alice']);
    assert.deepEqual(desc.searchAttributes.EbookStage, ['completed']);
    const found = [];
    for await (const wf of stack.client.workflow.list({
      query: `EbookUserId = 'alice' AND EbookStage = 'completed'`,
    })) {
      found.push(wf.workflowId);
    }
    assert.ok(found.includes(workflowId), 'visibility finds the book by user and stage');

    // One activity per step, and no chapter text in history.
    const history = await handle.fetchHistory();
    const scheduled = history.events!.filter((e) => e.activityTaskScheduledEventAttributes);
    const types = scheduled.map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
    const count = (t: string) => types.filter((x) => x === t).length;
    assert.equal(count('writeOutline'), 1);
    assert.equal(count('writeChapter'), 3);
    assert.equal(count('drawIllustration'), 3);
    assert.equal(count('drawCover'), 1);
    for (const t of ['renderPdf', 'renderEpub', 'storeFiles', 'publishEbook']) assert.equal(count(t), 1, t);
    const historyText = JSON.stringify(
      history.events!.flatMap((e) =>
        (e.activityTaskCompletedEventAttributes?.result?.payloads ?? []).map((p) => defaultPayloadConverter.fromPayload(p)),
      ),
    );
    const firstParagraph: string = book.body.chapters[0].paragraphs[0];
    assert.ok(!historyText.includes(firstParagraph.slice(0, 60)), 'chapter text stays out of workflow history');
    assert.ok(Buffer.byteLength(JSON.stringify(history)) < 200_000, 'history stays small');

    // Progress events reached the API across processes' channel, in order.
    const events = await stack.services.knex('ebook_events').where({ ebook_id: id }).orderBy('id');
    const kinds = events.map((e: { type: string }) => e.type);
    assert.ok(kinds.includes('outline') && kinds.includes('chapter.text') && kinds.at(-1) === 'completed', kinds.join(','));

    async function download(url: string, type: string): Promise<Buffer> {
      assert.ok(url, 'the file URL is set');
      const res = await fetch(apiUrl + url, { headers: { authorization: `Bearer ${alice}` } });
      assert.equal(res.status, 200, url);
      assert.equal(res.headers.get('content-type'), type);
      assert.match(res.headers.get('content-disposition') ?? '', /attachment/);
      return Buffer.from(await res.arrayBuffer());
    }
  });

  it('streams progress over server-sent events and resumes from Last-Event-ID', async () => {
    const created = await api(apiUrl, 'POST', '/v1/ebooks', {
      token: alice,
      body: { prompt: 'Two sisters restore a moonlit carousel', chapterCount: 2 },
    });
    assert.equal(created.status, 202);
    const id = created.body.id;
    const all = await readSse(`/v1/ebooks/${id}/events`, (evs) => evs.some((e) => e.event === 'completed'));
    const ids = all.map((e) => Number(e.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'event ids increase');
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    const texts = all.filter((e) => e.event === 'chapter.text');
    assert.ok(texts.length >= 2, 'chapter text arrives as it is written');
    // Resume after the third event: exactly the rest arrives.
    const rest = await readSse(`/v1/ebooks/${id}/events`, (evs) => evs.some((e) => e.event === 'completed'), ids[2]);
    assert.deepEqual(
      rest.map((e) => Number(e.id)),
      ids.slice(3),
    );
  });

  async function readSse(
    p: string,
    done: (events: Array<{ id: string; event: string; data: string }>) => boolean,
    lastEventId?: number,
  ) {
    const ctrl = new AbortController();
    const headers: Record<string, string> = { authorization: `Bearer ${alice}` };
    if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
    const res = await fetch(apiUrl + p, { headers, signal: ctrl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const events: Array<{ id: string; event: string; data: string }> = [];
    const decoder = new TextDecoder();
    let buf = '';
    const timer = setTimeout(() => ctrl.abort(), 120_000);
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let sep;
        while ((sep = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          const ev = { id: '', event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) ev.id = line.slice(4);
            else if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data += line.slice(6);
          }
          if (ev.id) events.push(ev);
        }
        if (done(events)) break;
      }
    } finally {
      clearTimeout(timer);
      ctrl.abort();
    }
    return events;
  }
});
