/**
 * Rewriting one chapter of a published book: the chapter and its picture are
 * made again (following the reader's feedback), both files are rendered again
 * as version 2, the other chapters stay as they were, and version 1 stays stored.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { useTestStack } from '../helpers/stack';
import { api, exec, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

describe('rewrite one chapter', function () {
  const stack = useTestStack();
  let url: string;
  let token: string;

  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'rita' });
    await stack.services.repos.profiles.ensure({ clerkUserId: 'rita' });
    await stack.services.repos.profiles.setSubscription('rita', 'midnights');
  });

  const bookOf = async (id: string) => (await api(url, 'GET', `/v1/ebooks/${id}`, { token })).body;

  it('rewrites the chapter and its picture, re-renders as a new version, keeps the rest', async () => {
    const created = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A ferry captain and a lost violin', chapterCount: 3 } });
    assert.equal(created.status, 202);
    const id = created.body.id;
    const early = await api(url, 'POST', `/v1/ebooks/${id}/chapters/1/regenerate`, { token, body: {} });
    assert.equal(early.status, 409, 'not before the book is completed');
    await waitFor('the first version', async () => (await bookOf(id)).status === 'completed');
    const before = await bookOf(id);
    assert.equal(before.fileVersion, 1);

    const bad = await api(url, 'POST', `/v1/ebooks/${id}/chapters/2/regenerate`, { token, body: { feedback: '' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'body.feedback');
    const unknown = await api(url, 'POST', `/v1/ebooks/${id}/chapters/2/regenerate`, { token, body: { tone: 'x' } });
    assert.equal(unknown.status, 400);
    assert.equal((await api(url, 'POST', `/v1/ebooks/${id}/chapters/4/regenerate`, { token, body: {} })).status, 404);
    const other = await signSessionToken(stack.devKeys, { userId: 'sam' });
    assert.equal((await api(url, 'POST', `/v1/ebooks/${id}/chapters/2/regenerate`, { token: other, body: {} })).status, 404);

    const started = await api(url, 'POST', `/v1/ebooks/${id}/chapters/2/regenerate`, {
      token,
      body: { feedback: 'More rain, and let the violin speak.' },
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.fromVersion, 1);
    const twice = await api(url, 'POST', `/v1/ebooks/${id}/chapters/2/regenerate`, { token, body: {} });
    assert.equal(twice.status, 409, 'one rewrite of a chapter per version at a time');

    await waitFor('version 2', async () => (await bookOf(id)).fileVersion === 2);
    const after = await bookOf(id);
    assert.equal(after.status, 'completed');
    assert.deepEqual(after.chapters[0].paragraphs, before.chapters[0].paragraphs, 'chapter 1 is kept');
    assert.deepEqual(after.chapters[2].paragraphs, before.chapters[2].paragraphs, 'chapter 3 is kept');
    assert.notDeepEqual(after.chapters[1].paragraphs, before.chapters[1].paragraphs, 'chapter 2 is new');
    assert.match(after.pdfUrl, /v=2$/);

    const rows = await stack.services.repos.ebooks.get(id);
    assert.match(rows!.chapters[1].textKey!, /02\.r2\.json$/);
    assert.match(rows!.chapters[1].imageKey!, /chapter-02\.r2\./);
    assert.ok(await stack.services.storage.head(`ebooks/${id}/v1/book.pdf`), 'version 1 stays stored');

    const res = await fetch(url + after.pdfUrl, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const file = path.join(stack.dataDir, 'v2.pdf');
    await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
    await exec('qpdf', ['--check', file]);
    const { stdout } = await exec('pdftotext', ['-enc', 'UTF-8', file, '-']);
    const flat = stdout.replace(/\s+/g, ' ');
    const sentence = after.chapters[1].paragraphs[0].split(/(?<=[.!?])\s/)[0].slice(0, 40);
    assert.ok(flat.includes(sentence.replace(/\s+/g, ' ')), 'the new chapter text is in the new PDF');

    const generated = await stack.services.knex('user_activities').where({ activity_type: 'ebook_generated' }).whereRaw(`activity_data->>'ebookId' = ?`, [id]);
    assert.equal(generated.length, 2, 'one domain event per version');
  });
});
