/**
 * A browser's own EventSource follows a book: Chromium opens the book's event
 * stream with a stream token from POST /v1/ebooks/{id}/events/token (EventSource
 * cannot send a bearer token) and receives the run from `started` to `completed`,
 * each event naming its run. Without a token, or with another book's, the stream
 * is refused.
 */
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { useTestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { launchChromium } from './harness';

describe('EventSource in Chromium', function () {
  this.timeout(300_000);
  const stack = useTestStack();
  let base: string;
  let browser: Browser;
  let page: Page;
  let token: string;

  before(async () => {
    ({ url: base } = await stack.startApi());
    await stack.startWorker();
    browser = await launchChromium();
    stack.defer(() => browser.close());
    page = await browser.newPage();
    // Same origin as the API, as the web page is.
    await page.goto(`${base}/healthz`);
    token = await signSessionToken(stack.devKeys, { userId: 'eve' });
  });

  /**
   * Opens an EventSource in the page; resolves with the events up to the run's end,
   * or `error` when refused. A string, not a function: the test runner's transpiler
   * would put helpers into a function's source that the page does not have.
   */
  const listen = (url: string): Promise<{ events: Array<{ type: string; id: string; run?: number }>; error?: boolean }> =>
    page.evaluate(`new Promise((resolve) => {
      const events = [];
      const source = new EventSource(${JSON.stringify(url)});
      const timer = setTimeout(() => { source.close(); resolve({ events, error: true }); }, 120000);
      const types = ['started', 'stage', 'outline', 'chapter.text', 'chapter.written', 'chapter.illustrated', 'cover', 'completed', 'failed'];
      for (const type of types) {
        source.addEventListener(type, (e) => {
          events.push({ type, id: e.lastEventId, run: JSON.parse(e.data).run });
          if (type === 'completed' || type === 'failed') { clearTimeout(timer); source.close(); resolve({ events }); }
        });
      }
      // A refused stream closes for good (no reconnect); a dropped one reconnects.
      source.onerror = () => {
        if (source.readyState === EventSource.CLOSED) { clearTimeout(timer); resolve({ events, error: true }); }
      };
    })`);

  it('follows a book from started to completed with a stream token, and is refused without one', async () => {
    const created = await api(base, 'POST', '/v1/ebooks', { token, body: { prompt: 'A lamplighter befriends a comet', chapterCount: 2 } });
    assert.equal(created.status, 202);
    const id = created.body.id as string;
    const grant = await api(base, 'POST', `/v1/ebooks/${id}/events/token`, { token });
    assert.equal(grant.status, 200, JSON.stringify(grant.body));
    assert.ok(Date.parse(grant.body.expiresAt) > Date.now());

    const { events, error } = await listen(grant.body.url);
    assert.equal(error, undefined, JSON.stringify(events));
    assert.equal(events[0].type, 'started');
    assert.equal(events.at(-1)!.type, 'completed');
    assert.ok(events.some((e) => e.type === 'chapter.text'));
    assert.ok(events.every((e) => e.run === 1), 'every event names run 1');

    const refused = await listen(`/v1/ebooks/${id}/events`);
    assert.equal(refused.error, true);
    assert.deepEqual(refused.events, []);
    const other = await api(base, 'POST', '/v1/ebooks', { token, body: { prompt: 'A second book', chapterCount: 1 } });
    const wrongBook = await listen(`/v1/ebooks/${other.body.id}/events?streamToken=${grant.body.token}`);
    assert.equal(wrongBook.error, true, "another book's token");
    const status = await api(base, 'GET', `/v1/ebooks/${id}/status?streamToken=${grant.body.token}`);
    assert.equal(status.status, 401, 'the token opens the event stream only');
  });
});
