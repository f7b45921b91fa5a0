/**
 * The print package's wraparound cover through the product (issue 17): a Midnights book's
 * `files/print-cover` is served to its owner, as wide as back + spine + front + bleeds for
 * the page count of the interior served beside it; it goes with the print PDF into the
 * next version when a one-file revision carries that over; a Debut book, another user and
 * the public share route get 404 problems.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { useTestStack } from '../helpers/stack';
import { api, exec, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

const PT = 72;

describe('print package: the wraparound cover through the API (HTTP → Temporal → files)', function () {
  const stack = useTestStack();
  let apiUrl: string;
  let dir: string;

  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    await stack.startWorker();
    dir = await fs.mkdtemp(path.join(stack.dataDir, 'print-cover-'));
  });

  async function bookFor(userId: string, tier: 'free' | 'midnights', prompt: string) {
    await stack.services.repos.profiles.ensure({ clerkUserId: userId });
    await stack.services.repos.profiles.setSubscription(userId, tier);
    const token = await signSessionToken(stack.devKeys, { userId });
    const created = await api(apiUrl, 'POST', '/v1/ebooks', { token, body: { prompt, chapterCount: 2 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id: string = created.body.id;
    await waitFor(`${userId}'s book to complete`, async () => {
      const s = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
      if (s.body.status === 'failed') assert.fail(`book failed: ${JSON.stringify(s.body.error)}`);
      return s.body.status === 'completed';
    });
    return { id, token };
  }

  async function download(url: string, token: string, name: string): Promise<string> {
    const res = await fetch(apiUrl + url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, url);
    assert.equal(res.headers.get('content-type'), 'application/pdf');
    const file = path.join(dir, name);
    await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
    return file;
  }

  /** Checks the cover against the interior's page count; answers the spine width in inches. */
  async function checkCover(printFile: string, coverFile: string): Promise<{ pages: number; widthPt: number }> {
    const { stdout: info } = await exec('pdfinfo', [printFile]);
    const pages = Number(/^Pages:\s+(\d+)/m.exec(info)![1]);
    assert.ok(pages >= 2, info);
    const { stdout: cover } = await exec('pdfinfo', ['-box', coverFile]);
    assert.match(cover, /^Pages:\s+1$/m);
    const media = /^MediaBox:\s+([\d.\s]+)$/m.exec(cover)![1].trim().split(/\s+/).map(Number);
    // White paper (the default): 0.002252 in a page; 6 in back and front, 1/8 in bleed each side.
    const widthPt = (0.125 + 6 + pages * 0.002252 + 6 + 0.125) * PT;
    assert.ok(Math.abs(media[2] - widthPt) < 0.01, `cover ${media[2]} pt wide, expected ${widthPt.toFixed(2)} pt for ${pages} pages`);
    assert.ok(Math.abs(media[3] - 9.25 * PT) < 0.01);
    await exec('qpdf', ['--check', coverFile]);
    return { pages, widthPt };
  }

  it("serves a Midnights book's print cover, sized for its interior, to its owner only; a one-file revision keeps it", async () => {
    const { id, token } = await bookFor('maeve', 'midnights', 'A lighthouse keeper who collects the names of ships');
    const book = (await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token })).body;
    assert.equal(book.printCoverUrl, `/v1/ebooks/${id}/files/print-cover?v=${book.fileVersion}`);
    const printFile = await download(book.printPdfUrl, token, 'print-v1.pdf');
    const coverFile = await download(book.printCoverUrl, token, 'cover-v1.pdf');
    const v1 = await checkCover(printFile, coverFile);

    // Another user and the public share route never get it.
    await stack.services.repos.profiles.ensure({ clerkUserId: 'mallory' });
    const intruder = await signSessionToken(stack.devKeys, { userId: 'mallory' });
    const stranger = await api(apiUrl, 'GET', `/v1/ebooks/${id}/files/print-cover`, { token: intruder });
    assert.equal(stranger.status, 404);
    assert.equal(await api(apiUrl, 'POST', `/v1/ebooks/${id}/publish`, { token }).then((r) => r.status), 200);
    const shared = await fetch(`${apiUrl}/shared/ebooks/${id}/files/print-cover`);
    assert.equal(shared.status, 404);
    assert.match(shared.headers.get('content-type') ?? '', /problem\+json/);

    // Re-running the EPUB only carries the print PDF over, and its cover with it.
    const rerun = await api(apiUrl, 'POST', `/v1/ebooks/${id}/epub`, { token });
    assert.equal(rerun.status, 202, JSON.stringify(rerun.body));
    await waitFor('the EPUB re-run to publish v2', async () => {
      const s = await api(apiUrl, 'GET', `/v1/ebooks/${id}/status`, { token });
      if (s.body.revision?.status === 'failed') assert.fail(JSON.stringify(s.body.revision));
      return s.body.fileVersion === 2 && s.body.revision?.status === 'completed';
    });
    const v2 = (await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token })).body;
    assert.equal(v2.printCoverUrl, `/v1/ebooks/${id}/files/print-cover?v=2`);
    const cover2 = await download(v2.printCoverUrl, token, 'cover-v2.pdf');
    const print2 = await download(v2.printPdfUrl, token, 'print-v2.pdf');
    const again = await checkCover(print2, cover2);
    assert.equal(again.pages, v1.pages);
    assert.deepEqual(await fs.readFile(cover2), await fs.readFile(coverFile), 'the carried-over cover is the same file');
  });

  it("answers a 404 problem for a Debut book's print cover", async () => {
    const { id, token } = await bookFor('dora', 'free', 'A baker who bakes bread for ghosts');
    const book = (await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token })).body;
    assert.equal(book.printCoverUrl, null);
    const res = await api(apiUrl, 'GET', `/v1/ebooks/${id}/files/print-cover`, { token });
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
    assert.match(res.body.detail, /print-ready/);
  });
});
