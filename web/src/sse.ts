/**
 * A book's server-sent events through the browser's own EventSource. EventSource
 * cannot send an Authorization header, so the page first asks (with its bearer
 * token) for a short-lived stream token (POST /v1/ebooks/{id}/events/token) and
 * opens the URL it comes with. A dropped connection is reopened by EventSource
 * itself with Last-Event-ID; when it gives up (the token ran out, the server
 * refused), a new token is asked for and the stream reopened after the last id
 * seen (`lastEventId=`). Events at or below that id are dropped, so none is
 * applied twice and none is lost.
 */
import { ApiError, apiJson, NetworkError, type TokenSource } from './api';
import type { components } from './api-types';

type EbookEvent = components['schemas']['EbookEvent'];
type StreamToken = components['schemas']['StreamToken'];
export type EbookEventType = EbookEvent['event'];

/**
 * Every event type of a book's stream: EventSource delivers a named event only to a
 * listener for its name. Checked against the document both ways: no name it does
 * not have, and none of its names left out.
 */
export const EVENT_TYPES = [
  'started',
  'stage',
  'outline',
  'review.reminder',
  'chapter.text',
  'chapter.written',
  'chapter.restart',
  'chapter.illustrated',
  'cover',
  'provider.call',
  'revision',
  'completed',
  'failed',
  'cancelled',
] as const satisfies readonly EbookEventType[];
type Unlisted = Exclude<EbookEventType, (typeof EVENT_TYPES)[number]>;
const everyTypeListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyTypeListed;

export interface SseMessage {
  id: number;
  event: string;
  data: unknown;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StreamOptions {
  /** The book's event stream, `/v1/ebooks/{id}/events`; its token is asked for at `…/events/token`. */
  url: string;
  token: TokenSource;
  signal: AbortSignal;
  /** Return true to end the stream (the book reached a final state). */
  onMessage(msg: SseMessage): boolean | void;
  onState?(state: ConnectionState, detail?: { attempt: number; delayMs: number }): void;
  lastEventId?: number;
  /** The EventSource to use (default: the browser's). */
  EventSource?: typeof EventSource;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/** Resolves when the stream ends for good; rejects with ApiError when the book cannot be followed (401, 404…). */
export async function streamEvents(opts: StreamOptions): Promise<void> {
  const { signal } = opts;
  const Source = opts.EventSource ?? globalThis.EventSource;
  let lastId = opts.lastEventId ?? 0;
  let attempt = 0;
  let done = false;
  while (!signal.aborted && !done) {
    opts.onState?.(attempt === 0 ? 'connecting' : 'reconnecting', { attempt, delayMs: 0 });
    let grant: StreamToken;
    try {
      // Asked for on every (re)opening: a stream token lives minutes, and a Clerk token may have been renewed.
      grant = await apiJson<StreamToken>(`${opts.url}/token`, opts.token, { method: 'POST', signal });
    } catch (err) {
      if (signal.aborted) break;
      // Retrying cannot fix a refusal; the server being briefly away or busy can be.
      if (err instanceof ApiError && err.status < 500 && err.status !== 429) {
        opts.onState?.('closed');
        throw err;
      }
      if (!(err instanceof ApiError) && !(err instanceof NetworkError)) throw err;
      attempt += 1;
      const delayMs = Math.min(15_000, 1000 * 2 ** Math.min(attempt - 1, 4));
      opts.onState?.('reconnecting', { attempt, delayMs });
      await sleep(delayMs, signal);
      continue;
    }
    const url = lastId > 0 ? `${grant.url}&lastEventId=${lastId}` : grant.url;
    // Until EventSource gives up on this URL (or the stream ends, or the page stops following).
    done = await new Promise<boolean>((resolve) => {
      const source = new Source(url);
      const finish = (ended: boolean) => {
        source.close();
        signal.removeEventListener('abort', onAbort);
        resolve(ended);
      };
      const onAbort = () => finish(true);
      signal.addEventListener('abort', onAbort, { once: true });
      source.onopen = () => {
        attempt = 0;
        opts.onState?.('open');
      };
      const onEvent = (e: MessageEvent<string>) => {
        const id = /^\d+$/.test(e.lastEventId) ? Number(e.lastEventId) : undefined;
        if (id !== undefined && id <= lastId) return;
        if (id !== undefined) lastId = id;
        let data: unknown = e.data;
        try {
          data = JSON.parse(e.data);
        } catch {
          // Keep the raw text.
        }
        if (opts.onMessage({ id: id ?? lastId, event: e.type, data })) finish(true);
      };
      for (const type of EVENT_TYPES) source.addEventListener(type, onEvent);
      source.onerror = () => {
        // CONNECTING: EventSource reconnects by itself, with Last-Event-ID. CLOSED: it gave up.
        if (source.readyState === Source.CLOSED) finish(false);
        else opts.onState?.('reconnecting', { attempt: attempt + 1, delayMs: 0 });
      };
    });
    if (done || signal.aborted) break;
    attempt += 1;
    const delayMs = Math.min(15_000, 1000 * 2 ** Math.min(attempt - 1, 4));
    opts.onState?.('reconnecting', { attempt, delayMs });
    await sleep(delayMs, signal);
  }
  opts.onState?.('closed');
}
