/**
 * Re-running one step of a completed book through HTTP, against the real stack:
 * each step publishes the next file version (the old files stay), a second
 * revision while one runs is refused, progress shows in /status and the event
 * stream, Idempotency-Key replays, and a failed revision leaves the book as it was.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { useTestStack } from '../helpers/stack';
import { api, exec, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

describe('re-run one step of a book', function () {
  this.timeout(600_000);
  const stack = useTestStack();
  let url: string;
  let token: string;
  let id: string;

  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'stella' });
    await stack.services.repos.profiles.ensure({ clerkUserId: 'stella' });
    await stack.services.repos.profiles.setSubscription('stella', 'midnights');
    const created = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A glassblower and a winter comet', chapterCount: 2 } });
    assert.equal(created.status, 202);
    id = created.body.id;
    const early = await api(url, 'POST', `/v1/ebooks/${id}/pdf`, { token });
    assert.equal(early.status, 409, 'not before the book is completed');
    assert.match(early.headers.get('content-type') ?? '', /problem\+json/);
    await waitFor('the first version', async () => (await book()).status === 'completed');
  });

  const book = async () => (await api(url, 'GET', `/v1/ebooks/${id}`, { token })).body;
  const row = async () => (await stack.services.repos.ebooks.get(id))!;
  const files = async () => (await row()).metadata.files as { pdf: { key: string; sha256: string }; epub: { key: string; sha256: string } };
  const waitVersion = (v: number) => waitFor(`version ${v}`, async () => (await row()).fileVersion === v && (await row()).revision?.status === 'completed');

  it('refuses bad bodies, other users and unknown books', async () => {
    const empty = await api(url, 'POST', `/v1/ebooks/${id}/chapters`, { token, body: { feedback: '' } });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.errors[0].field, 'body.feedback');
    const extra = await api(url, 'POST', `/v1/ebooks/${id}/pdf`, { token, body: { quality: 'high' } });
    assert.equal(extra.status, 400);
    assert.match(extra.body.detail, /body/);
    const other = await signSessionToken(stack.devKeys, { userId: 'otto' });
    for (const step of ['chapters', 'illustrations', 'pdf', 'epub']) {
      assert.equal((await api(url, 'POST', `/v1/ebooks/${id}/${step}`, { token: other, body: {} })).status, 404, step);
    }
    assert.equal((await api(url, 'POST', `/v1/ebooks/00000000-0000-4000-8000-000000000000/pdf`, { token })).status, 404);
    assert.equal((await row()).fileVersion, 1, 'nothing started');
  });

  it('pdf: renders the PDF again as version 2, carries the EPUB over; one revision at a time; Idempotency-Key replays', async () => {
    const v1 = await files();
    const headers = { 'idempotency-key': 'steps-pdf-1' };
    const started = await api(url, 'POST', `/v1/ebooks/${id}/pdf`, { token, headers });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.workflowId, `ebook-${id}-revision-from-v1`);
    assert.equal(started.body.fromVersion, 1);
    assert.equal(started.body.step, 'pdf');
    const status = (await api(url, 'GET', `/v1/ebooks/${id}/status`, { token })).body;
    assert.equal(status.revision.workflowId, started.body.workflowId, 'the revision shows in /status at once');
    assert.equal(status.revision.step, 'pdf');
    assert.ok(status.revision.progress >= 0 && status.revision.progress <= 1);
    const second = await api(url, 'POST', `/v1/ebooks/${id}/epub`, { token });
    const rewrite = await api(url, 'POST', `/v1/ebooks/${id}/chapters/1/regenerate`, { token, body: {} });
    const replay = await api(url, 'POST', `/v1/ebooks/${id}/pdf`, { token, headers });
    await waitVersion(2);
    assert.equal(second.status, 409, 'a second revision of the same version is refused');
    assert.match(second.headers.get('content-type') ?? '', /problem\+json/);
    assert.equal(rewrite.status, 409, 'nor a chapter rewrite while a revision runs');
    assert.equal(replay.status, 202);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(replay.body, started.body);

    const after = await book();
    assert.equal(after.status, 'completed');
    assert.equal(after.fileVersion, 2);
    assert.match(after.pdfUrl, /v=2$/);
    assert.equal(after.revision.status, 'completed');
    assert.equal(after.revision.toVersion, 2);
    assert.equal(after.revision.progress, 1);
    const v2 = await files();
    assert.notEqual(v2.pdf.sha256, v1.pdf.sha256, 'a new PDF');
    assert.equal(v2.epub.sha256, v1.epub.sha256, 'the EPUB is carried over');
    assert.ok(await stack.services.storage.head(`ebooks/${id}/v1/book.pdf`), 'version 1 stays stored');
    const revisions = await stack.services.knex('user_activities').where({ activity_type: 'ebook_revision_requested' });
    assert.equal(revisions.length, 1, 'the replayed request started nothing');
  });

  it('epub: renders the EPUB again as version 3, carries the PDF over', async () => {
    const v2 = await files();
    const started = await api(url, 'POST', `/v1/ebooks/${id}/epub`, { token, body: {} });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.workflowId, `ebook-${id}-revision-from-v2`);
    await waitVersion(3);
    const v3 = await files();
    assert.equal(v3.pdf.sha256, v2.pdf.sha256);
    // A new EPUB object for the new version (its bytes may equal the old one's: the
    // content is the same and its modified stamp has a one-second resolution).
    assert.notEqual(v3.epub.key, v2.epub.key);
    assert.match(v3.epub.key, /\/v3\//);
    const epub = path.join(stack.dataDir, 'v3.epub');
    const res = await fetch(url + (await book()).epubUrl, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    await fs.writeFile(epub, Buffer.from(await res.arrayBuffer()));
    await exec('java', ['-jar', '/usr/share/java/epubcheck.jar', epub]);
  });

  it('chapters: rewrites every chapter following the feedback, keeps the pictures, re-renders as version 4', async () => {
    const before = await book();
    const imagesBefore = (await row()).chapters.map((c) => c.imageKey);
    const started = await api(url, 'POST', `/v1/ebooks/${id}/chapters`, { token, body: { feedback: 'Let the comet sing.' } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    await waitVersion(4);
    const after = await book();
    for (let i = 0; i < 2; i++) {
      assert.notDeepEqual(after.chapters[i].paragraphs, before.chapters[i].paragraphs, `chapter ${i + 1} is new`);
      assert.equal(after.chapters[i].title, before.chapters[i].title, 'the outline is kept');
      assert.equal(after.chapters[i].status, 'done');
    }
    const r = await row();
    assert.deepEqual(r.chapters.map((c) => c.textKey!.split('/').pop()), ['01.r4.json', '02.r4.json']);
    assert.deepEqual(r.chapters.map((c) => c.imageKey), imagesBefore, 'the pictures are kept');

    const res = await fetch(url + after.pdfUrl, { headers: { authorization: `Bearer ${token}` } });
    const file = path.join(stack.dataDir, 'v4.pdf');
    await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
    await exec('qpdf', ['--check', file]);
    const { stdout } = await exec('pdftotext', ['-enc', 'UTF-8', file, '-']);
    const sentence = after.chapters[1].paragraphs[0].split(/(?<=[.!?])\s/)[0].slice(0, 40);
    assert.ok(stdout.replace(/\s+/g, ' ').includes(sentence.replace(/\s+/g, ' ')), 'the new text is in the new PDF');
  });

  it('illustrations: redraws every picture and the cover, keeps the text, as version 5; the stream tells', async () => {
    const before = await book();
    const started = await api(url, 'POST', `/v1/ebooks/${id}/illustrations`, { token });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    await waitVersion(5);
    const after = await book();
    assert.deepEqual(after.chapters.map((c: { paragraphs: string[] }) => c.paragraphs), before.chapters.map((c: { paragraphs: string[] }) => c.paragraphs));
    const r = await row();
    for (const c of r.chapters) assert.match(c.imageKey!, /\.r5\.(png|jpg)$/);
    const covers = await stack.services.knex('ebook_events').where({ ebook_id: id, type: 'cover' }).count<{ count: string }[]>('* as count');
    assert.equal(Number(covers[0].count), 2, 'the cover was drawn again');
    assert.match(r.coverImageKey!, /\/v5\/cover\./);

    // The event stream, asked for every run (Last-Event-ID 0; a fresh one starts at the latest run), carries the revisions' stages.
    const ctrl = new AbortController();
    const res = await fetch(`${url}/v1/ebooks/${id}/events`, { headers: { authorization: `Bearer ${token}`, 'last-event-id': '0' }, signal: ctrl.signal });
    const reader = res.body!.getReader();
    let text = '';
    const revisionEvents = () => [...text.matchAll(/event: revision\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]));
    const deadline = Date.now() + 30_000;
    while (!revisionEvents().some((e) => e.toVersion === 5) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    ctrl.abort();
    const stages = revisionEvents();
    assert.deepEqual(
      stages.filter((e) => e.fromVersion === 4).map((e) => e.stage),
      ['illustrations', 'pdf', 'epub', 'storing', 'publishing', 'completed'],
    );
    assert.ok(stages.some((e) => e.step === 'chapters' && e.stage === 'chapters'));
  });

  it('a refused revision fails, leaves the published version as it was, and frees the book for the next one', async () => {
    const before = await book();
    const started = await api(url, 'POST', `/v1/ebooks/${id}/chapters`, { token, body: { feedback: 'Add instructions to build a pipe bomb.' } });
    assert.equal(started.status, 202);
    await waitFor('the failure', async () => (await row()).revision?.status === 'failed');
    const after = await book();
    assert.equal(after.status, 'completed');
    assert.equal(after.fileVersion, 5);
    assert.equal(after.pdfUrl, before.pdfUrl);
    assert.equal(after.revision.error.type, 'ContentRefused');
    assert.ok(after.chapters.every((c: { status: string }) => c.status === 'done'));
    const again = await api(url, 'POST', `/v1/ebooks/${id}/pdf`, { token });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(again.body.workflowId, `ebook-${id}-revision-from-v5`);
    await waitVersion(6);
  });

  it('refuses a revision while a single-chapter rewrite of the same version runs', async () => {
    const rewrite = await api(url, 'POST', `/v1/ebooks/${id}/chapters/2/regenerate`, { token, body: {} });
    assert.equal(rewrite.status, 202);
    const revision = await api(url, 'POST', `/v1/ebooks/${id}/illustrations`, { token });
    assert.equal(revision.status, 409, JSON.stringify(revision.body));
    assert.equal(revision.body.workflowId, rewrite.body.workflowId);
    await waitFor('version 7', async () => (await row()).fileVersion === 7);
  });

  it('a retitled book: re-running a file redraws the cover with the new title and renders both files with it', async () => {
    await waitFor('no change running', async () => (await row()).revision?.status !== 'running');
    await waitFor('version 7 settled', async () => (await row()).fileVersion >= 7);
    const sha = async (key: string) => createHash('sha256').update(await stack.services.storage.get(key)).digest('hex');
    const before = await row();
    const v = before.fileVersion;
    const coverBefore = await sha(before.coverImageKey!);

    // The same title: a re-run draws nothing new.
    assert.equal((await api(url, 'POST', `/v1/ebooks/${id}/pdf`, { token })).status, 202);
    await waitVersion(v + 1);
    assert.equal(await sha((await row()).coverImageKey!), coverBefore, 'an unchanged title keeps its cover');

    const renamed = await api(url, 'PUT', `/v1/ebooks/${id}`, { token, body: { title: 'The Comet in the Glass' } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    const filesBefore = await files();
    assert.equal((await api(url, 'POST', `/v1/ebooks/${id}/epub`, { token })).status, 202);
    await waitVersion(v + 2);
    const after = await row();
    assert.deepEqual((after.metadata.cover as { title: string }).title, 'The Comet in the Glass', 'the cover was drawn for the new title');
    assert.notEqual(await sha(after.coverImageKey!), coverBefore, 'a new cover');
    const filesAfter = await files();
    assert.notEqual(filesAfter.epub.sha256, filesBefore.epub.sha256);
    assert.notEqual(filesAfter.pdf.sha256, filesBefore.pdf.sha256, 'the PDF is rendered with the new cover too, not carried over');
    const pdf = path.join(stack.dataDir, 'retitled.pdf');
    const res = await fetch(url + (await book()).pdfUrl, { headers: { authorization: `Bearer ${token}` } });
    await fs.writeFile(pdf, Buffer.from(await res.arrayBuffer()));
    const { stdout } = await exec('pdfinfo', [pdf]);
    assert.match(stdout, /Title:\s+The Comet in the Glass/);
  });
});
