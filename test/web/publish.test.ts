/**
 * Publish / share in the web app, in Debian's chromium against the real engine.
 *
 * The publish routes (`POST /v1/ebooks/{id}/publish|unpublish`, `GET /shared/ebooks/{id}`)
 * come from another branch. Which half runs depends on whether the app serves
 * them (the OpenAPI document lists every route): without them, the page must
 * say in words that sharing is not available and that a /read link shows no
 * book; with them, the whole flow must work: publish, share link, anyone reads
 * it without signing in (phone too), downloads, make private again.
 */
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { issueLocalSignInLink } from '../../api/web';
import { signSessionToken } from '../../lib/tokens';
import { launchChromium, PHONE, prepareWeb, shot, startWebServer, type WebServer } from './harness';

describe('web app: publish, share link and the public reader', function () {
  this.timeout(240_000);
  const stack = useTestStack();
  let web: WebServer;
  let base: string;
  let browser: Browser;
  let token: string;
  let book: { id: string; title: string; chapters: Array<{ title: string; paragraphs: string[] }> };

  before(async () => {
    await prepareWeb();
    await stack.startWorker();
    web = await startWebServer(stack);
    stack.defer(() => web?.close());
    base = web.base;
    browser = await launchChromium();
    stack.defer(() => browser?.close());

    token = await signSessionToken(stack.devKeys, { userId: 'gina' });
    const created = await api(base, 'POST', '/v1/ebooks', { token, body: { prompt: 'A tide clock that runs backwards', chapterCount: 2 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    await waitFor('the book to complete', async () => {
      const s = await api(base, 'GET', `/v1/ebooks/${created.body.id}/status`, { token });
      assert.ok(!['failed', 'cancelled'].includes(s.body.status), JSON.stringify(s.body));
      return s.body.status === 'completed';
    });
    book = (await api(base, 'GET', `/v1/ebooks/${created.body.id}`, { token })).body;
  });

  async function ownerPage(ctx: BrowserContext): Promise<Page> {
    const page = await ctx.newPage();
    await page.goto(await issueLocalSignInLink(base, 'gina', stack.dataDir));
    await page.getByRole('heading', { name: 'My books', level: 1 }).waitFor();
    await page.goto(`${base}/books/${book.id}`);
    await page.getByRole('heading', { name: book.title, level: 1 }).waitFor();
    return page;
  }

  async function notShared(page: Page, name: string) {
    await page.goto(`${base}/read/${book.id}`);
    await page.getByRole('heading', { name: 'This book is not shared', level: 1 }).waitFor();
    await page.getByRole('alert').getByText(/no public book at this address/).waitFor();
    assert.equal(await page.getByText(book.chapters[0].paragraphs[0]).count(), 0, 'none of the text leaks');
    await shot(page, name);
  }

  it('before publishing, the share address says the book is not shared and shows none of it', async () => {
    // The SPA fallback never answers for /shared: the API's 404 comes through.
    const shared = await fetch(`${base}/shared/ebooks/${book.id}`);
    assert.equal(shared.status, 404);
    assert.match(shared.headers.get('content-type') ?? '', /problem\+json/);
    const anon = await browser.newContext(PHONE);
    await notShared(await anon.newPage(), '19-phone-read-not-shared');
    await anon.close();
  });

  it('publishes a finished book, anyone reads it at the share link (phone too), and Make private takes it back', async function () {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ownerPage(ctx);
    await page.getByText('Only you can see this book.').waitFor();
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByRole('button', { name: 'Make private' }).waitFor();
    const link = await page.getByLabel('Share link').inputValue();
    assert.equal(await page.evaluate(`document.activeElement?.id`), 'share-link', 'focus moves to the new link');
    assert.equal(new URL(link).pathname, `/read/${book.id}`);
    const after = (await api(base, 'GET', `/v1/ebooks/${book.id}`, { token })).body;
    assert.equal(after.visibility, 'public');
    assert.ok(after.shareUrl, 'the API names a share URL');
    await shot(page, '20-published');

    // Anyone, without an account, on a phone.
    const anon = await browser.newContext(PHONE);
    const reader = await anon.newPage();
    await reader.goto(link);
    await reader.getByRole('heading', { name: book.title, level: 1 }).waitFor();
    for (const [i, c] of book.chapters.entries()) {
      await reader.getByRole('heading', { name: `Chapter ${i + 1}: ${c.title}` }).waitFor();
      await reader.getByText(c.paragraphs[0]).first().waitFor();
    }
    // The cover comes from the public file route and really decodes.
    const cover = reader.getByRole('img', { name: `Cover of ${book.title}` });
    await cover.waitFor();
    await reader.waitForFunction(
      `(() => { const img = document.querySelector('.cover-box img'); return !!img && img.complete && img.naturalWidth > 0; })()`,
    );
    // Every chapter's picture, from the public route, decoded.
    await reader.waitForFunction(
      `(() => { const imgs = [...document.querySelectorAll('main img')].filter((i) => i.src.includes('/chapters/')); return imgs.length === ${book.chapters.length} && imgs.every((i) => i.complete && i.naturalWidth > 0); })()`,
    );
    const overflow = (await reader.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await shot(reader, '21-phone-public-reader');
    for (const [label, magic] of [
      ['Download PDF', '%PDF'],
      ['Download EPUB', 'PK'],
    ] as const) {
      const href = await reader.getByRole('link', { name: label }).getAttribute('href');
      assert.match(href ?? '', new RegExp(`^/shared/ebooks/${book.id}/files/`), `${label}: ${href}`);
      const file = await fetch(base + href);
      assert.equal(file.status, 200, `${label} without a token`);
      assert.equal(Buffer.from(await file.arrayBuffer()).subarray(0, magic.length).toString('latin1'), magic);
    }

    // Private again: the link stops working.
    await page.getByRole('button', { name: 'Make private' }).click();
    await page.getByRole('button', { name: 'Publish' }).waitFor();
    assert.equal((await api(base, 'GET', `/v1/ebooks/${book.id}`, { token })).body.visibility, 'private');
    await notShared(reader, '22-phone-read-after-private');
    await anon.close();
    await ctx.close();
  });
});
