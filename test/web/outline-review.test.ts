/**
 * The outline review in the web app, in Debian's chromium against the real
 * engine: a book started with "Let me review the outline first" stops at its
 * outline; the list shows it waiting; the editor asks for a new outline, renames,
 * reorders, removes and adds chapters, shows the engine's refusal of an empty
 * title beside that chapter, and approves; the book is then written from the
 * edited plan.
 */
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { createTestStack, startWorker, type TestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { issueLocalSignInLink } from '../../api/web';
import { signSessionToken } from '../../lib/tokens';
import { launchChromium, prepareWeb, shot, startWebServer, type WebServer } from './harness';

describe('web app: the outline review', function () {
  this.timeout(300_000);
  let stack: TestStack;
  let web: WebServer;
  let stopWorker: () => Promise<void>;
  let browser: Browser;
  let page: Page;

  before(async () => {
    await prepareWeb();
    stack = await createTestStack();
    ({ stop: stopWorker } = await startWorker(stack));
    web = await startWebServer(stack);
    browser = await launchChromium();
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await web?.close();
    await stopWorker?.();
    await stack?.close();
  });

  const chapterTitle = (n: number) => page.getByLabel(`Chapter ${n} title`);

  it('stops after the outline, lets the owner change it, and writes the book from the approved plan', async () => {
    await page.goto(await issueLocalSignInLink(web.base, 'olga', stack.dataDir));
    await page.getByRole('heading', { name: 'My books', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Start a new book' }).click();
    await page.getByLabel('Prompt').fill('A lighthouse that collects lost songs');
    await page.getByLabel('Chapters').fill('3');
    await page.getByLabel(/Let me review the outline first/).check();
    await page.getByRole('button', { name: 'Start the book' }).click();

    await page.getByRole('heading', { name: 'Review the outline' }).waitFor({ timeout: 120_000 });
    assert.equal(await page.getByTestId('outline-chapter').count(), 3);
    const id = /\/books\/([0-9a-f-]{36})/.exec(page.url())![1];
    const token = await signSessionToken(stack.devKeys, { userId: 'olga' });
    const status = async () => (await api(web.base, 'GET', `/v1/ebooks/${id}/status`, { token })).body;
    assert.equal((await status()).status, 'awaiting_review');
    await shot(page, 'outline-review-1-waiting');

    // The list says which books wait for their owner.
    await page.goto(`${web.base}/`);
    await page.getByTestId('review-link').waitFor();
    assert.match((await page.locator('.book-row').first().textContent()) ?? '', /Waiting for you/);
    await page.getByTestId('review-link').click();
    await page.getByRole('heading', { name: 'Review the outline' }).waitFor();

    // A new outline from feedback replaces the draft.
    const firstTitle = await chapterTitle(1).inputValue();
    await page.getByLabel('What should a new outline do differently?').fill('Make the lighthouse keeper a child.');
    await page.getByRole('button', { name: 'Ask for changes' }).click();
    await page.getByRole('status').getByText('A new outline is ready.').waitFor();
    await waitFor('the new outline on the page', async () => (await chapterTitle(1).inputValue()) !== firstTitle, 30_000);

    // Rename, reorder, remove and add.
    await chapterTitle(1).fill('The First Song');
    const third = await chapterTitle(3).inputValue();
    await page.getByRole('button', { name: 'Move chapter 3 up' }).click();
    assert.equal(await chapterTitle(2).inputValue(), third);
    await page.getByRole('button', { name: 'Remove chapter 3' }).click();
    await page.getByRole('button', { name: 'Add a chapter' }).click();
    await chapterTitle(3).fill('   ');
    await page.getByLabel('Chapter 3 summary').fill('The songs go home to the sea.');

    // The engine refuses the blank title and the page shows why, beside that chapter.
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('alert').getByText('Chapter 3’s title must not be empty. Fix it and try again.').waitFor();
    assert.equal(await chapterTitle(3).getAttribute('aria-invalid'), 'true');
    await shot(page, 'outline-review-2-refused');

    await chapterTitle(3).fill('Home to the Sea');
    await page.getByRole('button', { name: 'Approve and write the book' }).click();

    // Written from the approved plan.
    await page.getByRole('button', { name: 'Download PDF' }).waitFor({ timeout: 180_000 });
    // The page read the finished book from GET /v1/ebooks/{id}; /status may still answer from
    // the API's status cache, filled by the page's last poll, for up to a second (api/status-cache.ts).
    await new Promise((r) => setTimeout(r, 1500));
    const final = await status();
    assert.equal(final.status, 'completed');
    assert.deepEqual(
      final.chapters.map((c: { title: string }) => c.title),
      ['The First Song', third, 'Home to the Sea'],
    );
    await page.getByRole('button', { name: '3. Home to the Sea' }).waitFor();
    await shot(page, 'outline-review-3-written');
  });
});
