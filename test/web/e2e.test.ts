/**
 * The web app end to end: the built SPA served by `api/web.ts` in front of the
 * real engine app, a real worker on a real Temporal server, driven in Debian's
 * chromium. Sign in with a one-time link, create a book (with an API error on
 * the way), watch it stream (through a forced network drop) with its pictures
 * and running cost, read it, download both files, and see that another user's
 * book is "not found". The providers are the local OpenAI-compatible server,
 * so the calls have list prices and the cost is more than zero.
 * Screenshots go to test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { RequestHandler } from 'express';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { useTestStack, type TestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { issueLocalSignInLink, consumeSignInCode, isLoopback, clerkFrontendHost } from '../../api/web';
import { createProviders, type Providers } from '../../wiring/providers';
import { signSessionToken } from '../../lib/tokens';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import { costOf } from '../../core/pricing';
import { launchChromium, PHONE, prepareWeb, shot, startWebServer, type WebServer } from './harness';

// Locators, not waitForFunction: the app's CSP (kept on in these tests) forbids string eval.
const paragraphsShown = (page: Page, chapter: number, n: number) =>
  page.locator(`[data-testid="chapter-text-${chapter}"] p:not(.placeholder-text)`).nth(n - 1).waitFor();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Offline providers that take their time, so the live view has something to show. */
function slowProviders(stack: TestStack): Providers {
  const base = createProviders(stack.config);
  return {
    image: {
      name: base.image.name,
      offline: base.image.offline,
      async generateImage(req, signal) {
        // Slow enough that the live view stays up while the test looks at chapter 1's picture and the cost.
        await sleep(2500);
        return base.image.generateImage(req, signal);
      },
    },
    text: {
      name: base.text.name,
      offline: base.text.offline,
      async writeOutline(brief, signal) {
        await sleep(600);
        return base.text.writeOutline(brief, signal);
      },
      async writeChapter(req, onText, signal) {
        const result = await base.text.writeChapter(req, undefined, signal);
        // Stream each paragraph in three pieces, as a token-streaming provider would.
        for (const p of result.paragraphs) {
          const text = `${p}\n\n`;
          const step = Math.ceil(text.length / 3);
          for (let i = 0; i < text.length; i += step) {
            onText?.(text.slice(i, i + step));
            await sleep(50);
          }
        }
        return result;
      },
    },
  };
}

describe('web app end to end (chromium → SPA → API → Temporal)', function () {
  this.timeout(240_000);
  let web: WebServer;
  let base: string;
  let browser: Browser;
  let openai: OpenAICompatServer;
  let dropped = 0;

  before(async () => {
    await prepareWeb();
    openai = await startOpenAICompatServer();
  });
  const stack = useTestStack(() => ({ CHAPTER_CONCURRENCY: '1', ...providerEnv({ openai }), TEXT_PROVIDERS: 'openai', IMAGE_PROVIDERS: 'openai' }));
  before(async () => {
    await stack.startWorker(slowProviders(stack));

    // Cut the first event stream right after its first chapter.text event (a
    // chapter's moderated opening; the rest comes in later pieces): the page must
    // reconnect with Last-Event-ID and lose or repeat nothing.
    const dropOnce: RequestHandler = (req, res, next) => {
      if (dropped > 0 || !/^\/v1\/ebooks\/[^/]+\/events$/.test(req.path)) return next();
      let textEvents = 0;
      const write = res.write.bind(res) as (...a: unknown[]) => boolean;
      (res as unknown as { write: (...a: unknown[]) => boolean }).write = (...args: unknown[]) => {
        const ok = write(...args);
        if (String(args[0]).includes('event: chapter.text') && ++textEvents === 1 && dropped === 0) {
          dropped++;
          setTimeout(() => req.socket.destroy(), 10);
        }
        return ok;
      };
      next();
    };
    web = await startWebServer(stack, { before: dropOnce });
    stack.defer(() => web?.close());
    base = web.base;
    browser = await launchChromium();
    stack.defer(() => browser?.close());
  });

  after(async () => {
    await openai?.close();
  });

  /** What the book's provider.call events cost by the engine's price table (as the page sums them). */
  async function eventsCostUsd(id: string): Promise<number> {
    const rows: Array<{ data: { provider: string; model: string; usage: object } }> = await stack.services
      .knex('ebook_events')
      .where({ ebook_id: id, type: 'provider.call' })
      .select('data');
    return rows.reduce((sum, r) => sum + costOf(r.data.provider, r.data.model, r.data.usage).costUsd, 0);
  }
  const shownUsd = async (page: Page) => Number(await page.getByTestId('cost').locator('strong').getAttribute('data-usd'));
  const naturalWidth = (img: ReturnType<Page['locator']>) => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth);


  async function signedIn(ctx: BrowserContext, userId: string): Promise<Page> {
    const page = await ctx.newPage();
    await page.goto(await issueLocalSignInLink(base, userId, stack.dataDir));
    await page.getByRole('heading', { name: 'My books', level: 1 }).waitFor();
    assert.ok(!page.url().includes('token='), 'the token is stripped from the address bar');
    return page;
  }

  it('sign-in links are single-use, expire, and are only for loopback', async () => {
    const link = await issueLocalSignInLink(base, 'carol', stack.dataDir);
    const first = await fetch(link, { redirect: 'manual' });
    assert.equal(first.status, 303);
    assert.match(first.headers.get('location') ?? '', /^\/#token=[\w-]+\.[\w-]+\.[\w-]+$/);
    const again = await fetch(link, { redirect: 'manual' });
    assert.equal(again.status, 400, 'a used link does not work twice');
    assert.match(await again.text(), /not valid/);

    // An expired code: rewrite its record's expiry into the past.
    const old = new URL(await issueLocalSignInLink(base, 'carol', stack.dataDir)).searchParams.get('code')!;
    const dir = path.join(stack.dataDir, 'signin');
    for (const f of await fs.readdir(dir)) {
      const file = path.join(dir, f);
      const rec = JSON.parse(await fs.readFile(file, 'utf8'));
      await fs.writeFile(file, JSON.stringify({ ...rec, expiresAt: Date.now() - 1 }));
    }
    assert.deepEqual(await consumeSignInCode(stack.dataDir, old), { error: 'expired' });
    assert.ok(isLoopback('::1') && isLoopback('127.0.0.1') && !isLoopback('192.168.1.5') && !isLoopback(undefined));

    // The SPA fallback serves the app for page addresses, never for the API or files.
    const page = await fetch(`${base}/books/anything`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="root">/);
    assert.equal((await fetch(`${base}/v1/nothing`)).status, 401, '/v1 stays the API');
    assert.equal((await fetch(`${base}/missing.js`)).status, 404);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });

  it('uses Clerk only when configured: its own bundle, its mount point, and words when Clerk cannot load', async () => {
    // The local default never downloads the Clerk bundle.
    const local = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const lp = await local.newPage();
    const localScripts: string[] = [];
    lp.on('request', (r) => localScripts.push(r.url()));
    await lp.goto(`${base}/`);
    await lp.getByTestId('local-sign-in').waitFor();
    assert.deepEqual((await (await fetch(`${base}/web-config.json`)).json()), { signIn: 'local-link', codeMinutes: 10 });
    assert.ok(!localScripts.some((u) => /ClerkApp-/.test(u)), 'no Clerk code in the local default');
    await local.close();

    // The same app with a publishable key (no Clerk instance exists offline).
    const host = 'clerk.ebooks.example.test';
    const publishableKey = `pk_test_${Buffer.from(`${host}$`).toString('base64')}`;
    assert.equal(clerkFrontendHost(publishableKey), host);
    const clerkWeb = await startWebServer(stack, { clerkPublishableKey: publishableKey, api: false });
    const clerkBase = clerkWeb.base;
    try {
      assert.deepEqual(await (await fetch(`${clerkBase}/web-config.json`)).json(), { signIn: 'clerk', clerkPublishableKey: publishableKey });
      const html = await fetch(`${clerkBase}/`);
      const csp = html.headers.get('content-security-policy') ?? '';
      assert.match(csp, new RegExp(`script-src 'self' https://${host.replace(/\./g, '\\.')}`), csp);
      assert.match(csp, new RegExp(`connect-src 'self' https://${host.replace(/\./g, '\\.')}`), csp);

      const ctx = await browser.newContext(PHONE);
      const page = await ctx.newPage();
      const requested: string[] = [];
      const pageErrors: string[] = [];
      page.on('request', (r) => requested.push(r.url()));
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(`${clerkBase}/`);
      await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
      await page.getByTestId('clerk-sign-in').waitFor({ state: 'attached' });
      assert.equal(await page.getByTestId('local-sign-in').count(), 0, 'no local sign-in link instructions');
      assert.ok(requested.some((u) => /\/assets\/ClerkApp-[\w-]+\.js$/.test(u)), 'the Clerk bundle is loaded on demand');
      await page.getByTestId('clerk-loading').waitFor();
      await shot(page, '14-clerk-loading');
      // Offline, Clerk's script (from the instance's Frontend API host) never arrives: Clerk gives up after 15 s.
      await page.getByTestId('clerk-failed').waitFor({ timeout: 40_000 });
      assert.ok(
        requested.some((u) => u.startsWith(`https://${host}/npm/@clerk/clerk-js@`)),
        `Clerk tried to load its script from ${host}: ${requested.filter((u) => !u.startsWith(clerkBase)).join(', ')}`,
      );
      assert.match((await page.getByRole('alert').textContent()) ?? '', /could not be loaded/);
      await shot(page, '15-clerk-unreachable');
      const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
      assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
      await ctx.close();
    } finally {
      await clerkWeb.close();
    }
  });

  it('signs in, creates a book, watches it stream, reads and downloads it; another user sees "not found"', async () => {
    const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const start = await desktop.newPage();
    await start.goto(`${base}/`);
    await start.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot(start, '01-signin');
    await start.close();

    const page = await signedIn(desktop, 'alice');
    await shot(page, '02-empty-list');
    // How the page reads the book's events: the browser's EventSource, with a stream token.
    const streams: Array<{ type: string; url: string; authorization?: string; lastEventId?: string }> = [];
    page.on('request', async (r) => {
      if (/\/v1\/ebooks\/[^/]+\/events(\?|$)/.test(r.url())) {
        const h = await r.allHeaders();
        streams.push({ type: r.resourceType(), url: r.url(), authorization: h.authorization, lastEventId: h['last-event-id'] });
      }
    });

    // The form: era drives the mood line and the archetypes.
    await page.getByRole('link', { name: 'Start a new book' }).click();
    await page.getByRole('heading', { name: 'Start a new book' }).waitFor();
    await page.getByLabel('Prompt').fill('A lighthouse keeper befriends a clockwork gull');
    assert.ok(await page.getByLabel(/Character type/).isDisabled(), 'no archetypes before an era');
    await page.getByLabel(/^Era/).selectOption('folklore-evermore');
    await page.getByText(/cardigans, creeks/).waitFor();
    await page.getByLabel(/Character type/).selectOption('the-dreamer');
    await page.getByLabel(/Main character/).fill('Ines');
    await page.getByLabel(/Illustration style/).fill('watercolour');
    await page.getByLabel('Chapters').fill('30');
    await page.getByRole('button', { name: 'Start the book' }).click();
    // The API's 400 problem, shown at the field in words.
    const fieldError = page.getByText('The number of chapters must be 1-24. Choose a whole number of chapters from 1 to 24.');
    await fieldError.waitFor();
    assert.equal(await page.getByLabel('Chapters').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(`document.activeElement?.getAttribute('name')`), 'chapterCount', 'focus moves to the field to fix');
    await shot(page, '03-form-api-error');

    await page.getByLabel('Chapters').fill('3');
    await page.getByRole('button', { name: 'Start the book' }).click();
    await page.waitForURL(/\/books\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop()!;

    // Live: text streams into chapter 1.
    const ch1 = page.getByTestId('chapter-text-1');
    await paragraphsShown(page, 1, 2);
    await shot(page, '04-live-streaming');
    await page.getByTestId('provider').getByText(/openai/).waitFor();
    // Once chapter 1 is written (chapters 2 and 3 still to come), its streamed text must be exactly the stored text.
    await page.locator(['written', 'illustrating', 'done'].map((st) => `[data-chapter="1"][data-status="${st}"]`).join(', ')).waitFor();
    const streamed = await ch1.locator('p').allTextContents();
    assert.equal(dropped, 1, 'the event stream was cut once mid-chapter');
    const token = await signSessionToken(stack.devKeys, { userId: 'alice' });
    const stored = await api(base, 'GET', `/v1/ebooks/${id}`, { token });
    assert.equal(stored.status, 200);
    assert.deepEqual(streamed, stored.body.chapters[0].paragraphs, 'no text lost or repeated across the reconnect');
    // Opened by EventSource (not fetch), authenticated by the stream token alone, and
    // reopened after the cut with the last id it had.
    assert.ok(streams.length >= 2, JSON.stringify(streams));
    assert.ok(streams.every((r) => r.type === 'eventsource'), JSON.stringify(streams));
    assert.ok(streams.every((r) => /[?&]streamToken=[\w-]+\.[\w-]+/.test(r.url) && !r.authorization), JSON.stringify(streams));
    assert.ok(streams.slice(1).some((r) => /^\d+$/.test(r.lastEventId ?? '') || /[?&]lastEventId=\d+/.test(r.url)), `resumed with its last id: ${JSON.stringify(streams)}`);
    // Chapter 1's picture appears in its slot once it is drawn, fetched with the token.
    const liveImg = page.getByTestId('chapter-image-1').locator('img');
    await liveImg.waitFor({ timeout: 60_000 });
    assert.ok((await naturalWidth(liveImg)) > 0, 'the picture decoded');
    assert.match((await liveImg.getAttribute('alt')) ?? '', /^Illustration for chapter 1, /, 'alt text from the API');
    // The running cost: money, marked as an estimate, more than zero once calls were made.
    await page.getByTestId('cost').getByText('estimated').waitFor();
    assert.ok((await shownUsd(page)) > 0, 'the running cost counts the calls so far');
    // Across the dropped connection no call was counted twice or missed: the page's sum meets the events' sum.
    const liveView = page.getByRole('button', { name: 'Cancel this book' });
    await waitFor(
      "the live view's running cost to match the provider.call events",
      async () => (await shownUsd(page)) === Number((await eventsCostUsd(id)).toFixed(6)) && (await liveView.count()) === 1,
      20_000,
      100,
    );
    assert.match((await page.getByTestId('cost').textContent()) ?? '', /^Cost so far: US\$\d+\.\d{2,4} estimated · \d+ provider calls?$/);
    await shot(page, '05-live-chapter1-written');

    // Finished: the reader replaces the live view.
    await page.getByRole('button', { name: 'Download PDF' }).waitFor({ timeout: 120_000 });
    await page.getByRole('img', { name: /^Cover of / }).waitFor();
    const book = (await api(base, 'GET', `/v1/ebooks/${id}`, { token })).body;
    assert.equal(book.status, 'completed');
    await page.getByRole('heading', { name: book.title, level: 1 }).waitFor();
    await page.getByText(book.chapters[0].paragraphs[0]).first().waitFor();
    const readerImg = page.getByRole('img', { name: book.chapters[0].imageAlt });
    await readerImg.waitFor();
    assert.ok((await naturalWidth(readerImg)) > 0);
    // The book's total from the API, and the same figure the live view's sum of events gives.
    assert.ok(book.cost.totalUsd > 0);
    assert.equal(await shownUsd(page), Number(book.cost.totalUsd.toFixed(6)));
    assert.equal((await eventsCostUsd(id)).toFixed(6), book.cost.totalUsd.toFixed(6), 'price table over events = ledger total');
    await page.getByTestId('cost').getByText(/^Cost: US\$/).waitFor();
    await shot(page, '06-reader');
    await page.getByRole('button', { name: `2. ${book.chapters[1].title}` }).click();
    await page.getByRole('heading', { name: `Chapter 2: ${book.chapters[1].title}` }).waitFor();
    await page.getByText(book.chapters[1].paragraphs[1]).first().waitFor();
    await page.getByRole('img', { name: book.chapters[1].imageAlt }).waitFor();
    await shot(page, '07-reader-chapter2');

    // Rewrite chapter 2 with feedback: the reader shows the new text once version 2 is out.
    await page.getByLabel('What should change in this chapter? (optional)').fill('More rain, please.');
    await page.getByRole('button', { name: 'Rewrite this chapter' }).click();
    await page.getByRole('button', { name: /^Rewriting/ }).waitFor();
    await page.getByRole('button', { name: 'Rewrite this chapter' }).waitFor({ timeout: 120_000 });
    const rewritten = (await api(base, 'GET', `/v1/ebooks/${id}`, { token })).body;
    assert.equal(rewritten.fileVersion, 2);
    assert.notDeepEqual(rewritten.chapters[1].paragraphs, book.chapters[1].paragraphs);
    await page.getByText(rewritten.chapters[1].paragraphs[1]).first().waitFor();
    await shot(page, '07b-reader-chapter2-rewritten');

    for (const [label, magic] of [
      ['Download PDF', '%PDF'],
      ['Download EPUB', 'PK'],
    ] as const) {
      const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: label }).click()]);
      const bytes = await fs.readFile((await dl.path())!);
      assert.equal(bytes.subarray(0, magic.length).toString('latin1'), magic, `${label}: ${dl.suggestedFilename()}`);
      assert.match(dl.suggestedFilename(), label.endsWith('PDF') ? /\.pdf$/ : /\.epub$/);
    }

    // The list of this browser's books.
    await page.getByRole('link', { name: 'My books' }).click();
    await page.getByRole('link', { name: book.title }).waitFor();
    await page.getByText('Ready to read').waitFor();
    await shot(page, '08-list');

    // Another user: the same id is "not found" for them.
    const bobCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const bob = await signedIn(bobCtx, 'bob');
    await bob.goto(`${base}/books/${id}`);
    // A reload loses nothing: the session is in sessionStorage.
    await bob.getByRole('heading', { name: 'Book not found' }).waitFor();
    await bob.getByText(/no book with this id in your account/).waitFor();
    await shot(bob, '09-other-user-not-found');
    await bobCtx.close();

    // A phone-sized screen: reader and form.
    const phone = await browser.newContext(PHONE);
    const p = await signedIn(phone, 'alice');
    await p.goto(`${base}/books/${id}`);
    await p.getByRole('button', { name: 'Download EPUB' }).waitFor();
    await p.getByRole('img', { name: /^Cover of / }).waitFor();
    const overflow = (await p.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await shot(p, '10-phone-reader');
    await p.goto(`${base}/new`);
    await p.getByRole('heading', { name: 'Start a new book' }).waitFor();
    await shot(p, '11-phone-form');
    // A second book on the phone, by another user (plans may allow one book a month), to see the live view at that size.
    await phone.clearCookies();
    const dana = await signedIn(await browser.newContext(PHONE), 'dana');
    await dana.goto(`${base}/new`);
    await p.close();
    await runPhoneLive(dana);
    await phone.close();
    await desktop.close();
  });

  async function runPhoneLive(p: Page) {
    await p.getByLabel('Prompt').fill('A night-market cartographer maps a city that rearranges itself');
    await p.getByLabel(/^Era/).selectOption('midnights');
    await p.getByLabel('Chapters').fill('2');
    await p.getByRole('button', { name: 'Start the book' }).click();
    await p.getByRole('button', { name: 'Cancel this book' }).waitFor().catch(async (err) => {
      await shot(p, '12-phone-live-FAILED');
      throw err;
    });
    await paragraphsShown(p, 1, 1);
    await shot(p, '12-phone-live');
    // Cancel it from the phone.
    await p.getByRole('button', { name: 'Cancel this book' }).click();
    await p.getByRole('button', { name: 'Yes, cancel it' }).click();
    await p.getByText('This book was cancelled.').waitFor({ timeout: 60_000 });
    // A cancelled book stays in the live view, with the book's total cost from the API.
    const id = p.url().split('/').pop()!;
    await p.reload();
    await p.getByText('This book was cancelled.').waitFor();
    const cost = p.getByTestId('cost');
    await cost.getByText(/^Cost: /).waitFor();
    const total = (await api(base, 'GET', `/v1/ebooks/${id}`, { token: await signSessionToken(stack.devKeys, { userId: 'dana' }) })).body.cost;
    assert.ok(total.totalUsd > 0);
    await cost.locator(`strong[data-usd="${total.totalUsd.toFixed(6)}"]`).waitFor({ timeout: 10_000 });
    await shot(p, '13-phone-cancelled');
    await p.context().close();
  }
});
