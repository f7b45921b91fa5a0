/**
 * The person is the author (issue 17): the files name the owner's profile name, or the pen
 * name given on create or PUT, as author and copyright holder; the copyright page names the
 * tools in words; the PDF's Keywords hold the era's name, not its id.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { useTestStack } from '../helpers/stack';
import { api, exec, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { getEra } from '../../core/eras';

describe('authorship and credits in the files', function () {
  this.timeout(300_000);
  const stack = useTestStack();
  let url: string;
  let token: string;

  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
    token = await signSessionToken(stack.devKeys, { userId: 'penelope' });
    const profile = await stack.services.repos.profiles.ensure({ clerkUserId: 'penelope' });
    await stack.services.repos.profiles.updateDetails(profile.id, { name: 'Penelope Quill' });
    await stack.services.repos.profiles.setSubscription('penelope', 'midnights');
  });

  const complete = async (id: string, version = 1) =>
    waitFor(`book ${id} v${version}`, async () => {
      const b = (await api(url, 'GET', `/v1/ebooks/${id}`, { token })).body;
      if (b.status === 'failed') assert.fail(JSON.stringify(b.error));
      return b.status === 'completed' && b.fileVersion >= version && !b.revision?.status?.match(/running/) && b;
    }, 240_000);

  /** The PDF's info dictionary and its text. */
  async function pdfOf(book: { id: string; pdfUrl: string }): Promise<{ info: string; text: string }> {
    const file = path.join(stack.dataDir, `${book.id}-${Date.now()}.pdf`);
    const res = await fetch(url + book.pdfUrl, { headers: { authorization: `Bearer ${token}` } });
    await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
    return { info: (await exec('pdfinfo', [file])).stdout, text: (await exec('pdftotext', ['-layout', file, '-'])).stdout };
  }

  it('names the owner, the tools in words and the era by its name', async () => {
    const era = 'folklore-evermore';
    const created = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A lighthouse keeper and a clockwork gull', chapterCount: 1, era } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { info, text } = await pdfOf(await complete(created.body.id));
    assert.match(info, /Author:\s+Penelope Quill/);
    assert.match(text, /© \d{4} Penelope Quill/);
    assert.match(text.replace(/\s+/g, ' '), /Text written with the engine's offline writer; pictures drawn with the engine's offline painter\./);
    assert.doesNotMatch(text, /Ebook Engine|Made with: offline/);
    assert.match(info, new RegExp(`Keywords:\\s+${getEra(era)!.name}`));
    assert.doesNotMatch(info, /folklore-evermore/);
  });

  it('a pen name on create, then another by PUT, is the author of the next files', async () => {
    const created = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'Two lighthouses trade letters', chapterCount: 1, penName: 'M. Lantern' } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id;
    assert.match((await pdfOf(await complete(id))).info, /Author:\s+M\. Lantern/);

    const bad = await api(url, 'PUT', `/v1/ebooks/${id}`, { token, body: { penName: '' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'body.penName');
    const renamed = await api(url, 'PUT', `/v1/ebooks/${id}`, { token, body: { penName: 'N. Wick' } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal((await api(url, 'POST', `/v1/ebooks/${id}/pdf`, { token })).status, 202);
    const v2 = await complete(id, 2);
    const { info, text } = await pdfOf(v2);
    assert.match(info, /Author:\s+N\. Wick/);
    assert.match(text, /© \d{4} N\. Wick/);

    // null goes back to the profile's name.
    assert.equal((await api(url, 'PUT', `/v1/ebooks/${id}`, { token, body: { penName: null } })).status, 200);
    assert.equal((await api(url, 'POST', `/v1/ebooks/${id}/pdf`, { token })).status, 202);
    assert.match((await pdfOf(await complete(id, 3))).info, /Author:\s+Penelope Quill/);
  });
});
