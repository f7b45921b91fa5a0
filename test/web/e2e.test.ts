/**
 * The web app end to end: the built SPA served by `api/web.ts` in front of the
 * real engine app, a real worker on a real Temporal server, driven in Debian's
 * chromium. Sign in with a one-time link, create a book (with an API error on
 * the way), watch it stream (through a forced network drop), read it, download
 * both files, and see that another user's book is "not found".
 * Screenshots go to test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createTestStack, startWorker, type TestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { createApp } from '../../api/app';
import { createWebRouter, issueLocalSignInLink, consumeSignInCode, isLoopback } from '../../api/web';
import { clerkSettings } from '../../lib/dev-keys';
import { createLogger } from '../../lib/logger';
import { createProviders, type Providers } from '../../lib/providers';
import { signSessionToken } from '../../lib/tokens';
import { buildWeb } from '../../scripts/build-web';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'web', 'dist');
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

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
        await sleep(300);
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
  let stack: TestStack;
  let server: Server;
  let base: string;
  let stopWorker: () => Promise<void>;
  let browser: Browser;
  let dropped = 0;

  before(async () => {
    buildWeb({ quiet: true });
    await fs.access(path.join(DIST, 'index.html'));
    await fs.mkdir(SHOTS, { recursive: true });
    stack = await createTestStack({ CHAPTER_CONCURRENCY: '1' });
    ({ stop: stopWorker } = await startWorker(stack, slowProviders(stack)));

    const app = express();
    // Cut the first event stream after a few chapter.text events: the page must
    // reconnect with Last-Event-ID and lose or repeat nothing.
    app.use((req, res, next) => {
      if (dropped > 0 || !/^\/v1\/ebooks\/[^/]+\/events$/.test(req.path)) return next();
      let textEvents = 0;
      const write = res.write.bind(res) as (...a: unknown[]) => boolean;
      (res as unknown as { write: (...a: unknown[]) => boolean }).write = (...args: unknown[]) => {
        const ok = write(...args);
        if (String(args[0]).includes('event: chapter.text') && ++textEvents === 4 && dropped === 0) {
          dropped++;
          setTimeout(() => req.socket.destroy(), 10);
        }
        return ok;
      };
      next();
    });
    app.use(createWebRouter({ devKeys: stack.devKeys, dataDir: stack.dataDir, distDir: DIST }));
    app.use(
      createApp({
        services: stack.services,
        temporal: stack.client,
        auth: clerkSettings(stack.config),
        log: createLogger('web-test', 'warn'),
        taskQueue: stack.taskQueue,
        chapterConcurrency: stack.config.chapterConcurrency,
      }),
    );
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await stopWorker?.();
    await stack?.close();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

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

  it('signs in, creates a book, watches it stream, reads and downloads it; another user sees "not found"', async () => {
    const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const start = await desktop.newPage();
    await start.goto(`${base}/`);
    await start.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot(start, '01-signin');
    await start.close();

    const page = await signedIn(desktop, 'alice');
    await shot(page, '02-empty-list');

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
    await page.getByTestId('provider').locator('.badge.offline').waitFor();
    // Once chapter 1 is written (chapters 2 and 3 still to come), its streamed text must be exactly the stored text.
    await page.locator(['written', 'illustrating', 'done'].map((st) => `[data-chapter="1"][data-status="${st}"]`).join(', ')).waitFor();
    const streamed = await ch1.locator('p').allTextContents();
    assert.equal(dropped, 1, 'the event stream was cut once mid-chapter');
    const token = await signSessionToken(stack.devKeys, { userId: 'alice' });
    const stored = await api(base, 'GET', `/v1/ebooks/${id}`, { token });
    assert.equal(stored.status, 200);
    assert.deepEqual(streamed, stored.body.chapters[0].paragraphs, 'no text lost or repeated across the reconnect');
    await shot(page, '05-live-chapter1-written');

    // Finished: the reader replaces the live view.
    await page.getByRole('button', { name: 'Download PDF' }).waitFor({ timeout: 120_000 });
    await page.getByRole('img', { name: /^Cover of / }).waitFor();
    const book = (await api(base, 'GET', `/v1/ebooks/${id}`, { token })).body;
    assert.equal(book.status, 'completed');
    await page.getByRole('heading', { name: book.title, level: 1 }).waitFor();
    await page.getByText(book.chapters[0].paragraphs[0]).waitFor();
    await shot(page, '06-reader');
    await page.getByRole('button', { name: `2. ${book.chapters[1].title}` }).click();
    await page.getByRole('heading', { name: `Chapter 2: ${book.chapters[1].title}` }).waitFor();
    await page.getByText(book.chapters[1].paragraphs[1]).waitFor();
    await shot(page, '07-reader-chapter2');

    // Rewrite chapter 2 with feedback: the reader shows the new text once version 2 is out.
    await page.getByLabel('What should change in this chapter? (optional)').fill('More rain, please.');
    await page.getByRole('button', { name: 'Rewrite this chapter' }).click();
    await page.getByRole('button', { name: /^Rewriting/ }).waitFor();
    await page.getByRole('button', { name: 'Rewrite this chapter' }).waitFor({ timeout: 120_000 });
    const rewritten = (await api(base, 'GET', `/v1/ebooks/${id}`, { token })).body;
    assert.equal(rewritten.fileVersion, 2);
    assert.notDeepEqual(rewritten.chapters[1].paragraphs, book.chapters[1].paragraphs);
    await page.getByText(rewritten.chapters[1].paragraphs[1]).waitFor();
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
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
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
    const dana = await signedIn(await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }), 'dana');
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
    await shot(p, '13-phone-cancelled');
    await p.context().close();
  }
});
