/**
 * The print-ready PDF through the product: a Midnights user's book gets a third file
 * (6×9 in trim, 1/8 in bleed, no watermark) stored with the same version and served
 * only to its owner; a Debut user's book has none. The interior is checked as a printer
 * would (issue 17): no cover inside, title page and chapters on right-hand pages, an even
 * page count of at least MIN_PRINT_PAGES, the providers' pictures at 300 ppi or more at
 * their printed size, a PDF/X-4 output intent with its ICC profile.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { useTestStack } from '../helpers/stack';
import { api, exec, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { MIN_PRINT_PAGES, MIN_PRINT_PPI } from '../../core/print';
import { imageRows, openingPages, pageBoxes, pageTexts, printIdentification } from '../render/print-checks';

/** The page boxes pdfinfo reports for page `page`, in points: [x0, y0, x1, y1]. */
async function boxes(file: string, page: number): Promise<Record<string, number[]>> {
  const { stdout } = await exec('pdfinfo', ['-box', '-f', String(page), '-l', String(page), file]);
  const out: Record<string, number[]> = {};
  for (const m of stdout.matchAll(/^Page\s+\d+\s+(\w+):\s+([\d.\s-]+)$/gm)) {
    out[m[1]] = m[2].trim().split(/\s+/).map(Number);
  }
  return out;
}

describe('print-ready PDF for the premium plans (HTTP → Temporal → files)', function () {
  const stack = useTestStack();
  let apiUrl: string;
  let dir: string;

  before(async () => {
    ({ url: apiUrl } = await stack.startApi());
    await stack.startWorker();
    dir = await fs.mkdtemp(path.join(stack.dataDir, 'print-'));
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
    const book = await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token });
    assert.equal(book.status, 200);
    return { id, token, book: book.body };
  }

  async function download(url: string, token: string, name: string): Promise<string> {
    const res = await fetch(apiUrl + url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, url);
    assert.equal(res.headers.get('content-type'), 'application/pdf');
    const file = path.join(dir, name);
    await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
    return file;
  }

  it("renders, stores and serves the print PDF for a Midnights user's book, to its owner only", async () => {
    const { id, token, book } = await bookFor('mira', 'midnights', 'A cartographer maps a city that moves at night');
    assert.equal(book.printPdfUrl, `/v1/ebooks/${id}/files/print?v=${book.fileVersion}`);

    const printFile = await download(book.printPdfUrl, token, 'print.pdf');
    const screenFile = await download(book.pdfUrl, token, 'screen.pdf');
    await exec('qpdf', ['--check', printFile]);

    // Every page: MediaBox = trim + 1/8 in bleed on each side (450 × 666 pt), TrimBox = 6 × 9 in inside it.
    const { stdout: info } = await exec('pdfinfo', [printFile]);
    const pages = Number(/^Pages:\s+(\d+)/m.exec(info)![1]);
    assert.ok(pages >= MIN_PRINT_PAGES && pages % 2 === 0, `an even count of at least ${MIN_PRINT_PAGES} pages: ${pages}`);
    (await pageBoxes(printFile)).forEach((b, i) => {
      assert.deepEqual(b.MediaBox, [0, 0, 450, 666], `page ${i + 1} MediaBox`);
      assert.deepEqual(b.BleedBox, [0, 0, 450, 666], `page ${i + 1} BleedBox`);
      assert.deepEqual(b.TrimBox, [9, 9, 441, 657], `page ${i + 1} TrimBox`);
    });

    // No cover inside: the title page is page 1; it and every chapter opening are right-hand pages.
    const pageText = await pageTexts(printFile);
    assert.ok(pageText[0].startsWith(book.title), `page 1 is the title page: ${pageText[0].slice(0, 80)}`);
    const openings = await openingPages(printFile);
    assert.equal(openings.length, book.chapters.length);
    for (const o of openings) assert.equal(o.page % 2, 1, `"${o.title}" opens on page ${o.page}`);
    // The providers' pictures, one per chapter and none for the cover, at 300 ppi or more as printed.
    const images = await imageRows(printFile);
    assert.equal(images.length, book.chapters.filter((c: { imageUrl?: string | null }) => c.imageUrl).length, JSON.stringify(images));
    for (const r of images) assert.ok(r.page > 1 && r.xPpi >= MIN_PRINT_PPI && r.yPpi >= MIN_PRINT_PPI, JSON.stringify(r));
    // PDF/X-4 with a GTS_PDFX output intent carrying an ICC profile.
    const ids = await printIdentification(printFile);
    assert.equal(ids.info.GTS_PDFXVersion, 'PDF/X-4');
    const intent = ids.intents.find((i) => i.dict['/S'] === '/GTS_PDFX');
    assert.ok(intent, 'a GTS_PDFX output intent');
    assert.equal(intent.profile.subarray(36, 40).toString('latin1'), 'acsp');
    // The screen PDF stays the 6 × 9 in page without bleed.
    assert.deepEqual((await boxes(screenFile, 1)).MediaBox, [0, 0, 432, 648]);

    // Same words as the screen edition, no watermark.
    const text = async (f: string) => (await exec('pdftotext', ['-enc', 'UTF-8', f, '-'])).stdout.replace(/\s+/g, ' ');
    const printText = await text(printFile);
    for (const c of book.chapters) assert.ok(printText.includes(c.title), `print PDF has "${c.title}"`);
    assert.ok(!/Made with the .* plan/.test(printText), 'no watermark');

    // Stored as a third file of the same version, next to the other two.
    const row = await stack.services.repos.ebooks.get(id);
    const files = (row!.metadata as { files: Record<string, { key: string }> }).files;
    assert.equal(files.print.key, `ebooks/${id}/v${book.fileVersion}/book-print.pdf`);
    assert.equal(files.pdf.key, `ebooks/${id}/v${book.fileVersion}/book.pdf`);

    // Another user: 404 problem, as for every other file of someone else's book.
    const bob = await signSessionToken(stack.devKeys, { userId: 'bob' });
    const other = await api(apiUrl, 'GET', `/v1/ebooks/${id}/files/print`, { token: bob });
    assert.equal(other.status, 404);
    assert.equal(other.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  });

  it('keeps a print PDF in every later version: a chapter rewrite renders it again, an EPUB re-run carries it over', async () => {
    const { id, token } = await bookFor('maya', 'midnights', 'A bell founder casts a bell that rings only for the lost');
    const printOf = async () => {
      const row = await stack.services.repos.ebooks.get(id);
      return { version: row!.fileVersion, status: row!.status, revision: row!.revision, print: (row!.metadata as { files: Record<string, { key: string; sha256: string }> }).files.print };
    };
    const atVersion = (v: number) =>
      waitFor(`version ${v}`, async () => {
        const r = await printOf();
        return r.version === v && r.status === 'completed' && (v < 3 || r.revision?.status === 'completed');
      });

    const rewrite = await api(apiUrl, 'POST', `/v1/ebooks/${id}/chapters/1/regenerate`, { token, body: { feedback: 'More bells.' } });
    assert.equal(rewrite.status, 202, JSON.stringify(rewrite.body));
    await atVersion(2);
    const v2 = await printOf();
    assert.equal(v2.print?.key, `ebooks/${id}/v2/book-print.pdf`, 'the rewrite rendered a new print PDF');
    const book2 = (await api(apiUrl, 'GET', `/v1/ebooks/${id}`, { token })).body;
    assert.equal(book2.printPdfUrl, `/v1/ebooks/${id}/files/print?v=2`);
    const rewritten = await download(book2.printPdfUrl, token, 'print-v2.pdf');
    await exec('qpdf', ['--check', rewritten]);
    const words = (await exec('pdftotext', ['-enc', 'UTF-8', rewritten, '-'])).stdout.replace(/\s+/g, ' ');
    const firstParagraph = book2.chapters[0].paragraphs[0].replace(/\s+/g, ' ');
    assert.ok(words.includes(firstParagraph.slice(0, 40)), 'the print PDF has the rewritten chapter');

    const epub = await api(apiUrl, 'POST', `/v1/ebooks/${id}/epub`, { token, body: {} });
    assert.equal(epub.status, 202, JSON.stringify(epub.body));
    await atVersion(3);
    const v3 = await printOf();
    assert.equal(v3.print?.key, `ebooks/${id}/v3/book-print.pdf`);
    assert.equal(v3.print?.sha256, v2.print?.sha256, 'carried over unchanged with the screen PDF');
  });

  it("has no print PDF for a Debut user's book: printPdfUrl null, files/print a 404 problem", async () => {
    const { id, token, book } = await bookFor('dara', 'free', 'A baker teaches a dragon to make bread');
    assert.equal(book.printPdfUrl, null);
    assert.ok(book.pdfUrl, 'the screen PDF is there');
    const res = await api(apiUrl, 'GET', `/v1/ebooks/${id}/files/print`, { token });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.match(res.body.detail, /print-ready/);
  });
});
