/**
 * Server-sent events over fetch: EventSource cannot send an Authorization
 * header. Parses the stream per the SSE rules, remembers the last event id, and
 * on a dropped connection reconnects with Last-Event-ID, so no event is lost;
 * events at or below the last id seen are dropped, so none is applied twice.
 */
import { ApiError, resolveToken, toApiError, type TokenSource } from './api';

export interface SseMessage {
  id: number;
  event: string;
  data: unknown;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StreamOptions {
  url: string;
  token: TokenSource;
  signal: AbortSignal;
  /** Return true to end the stream (the book reached a final state). */
  onMessage(msg: SseMessage): boolean | void;
  onState?(state: ConnectionState, detail?: { attempt: number; delayMs: number }): void;
  lastEventId?: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/** Resolves when the stream ends for good; rejects with ApiError on 401/404 and the like. */
export async function streamEvents(opts: StreamOptions): Promise<void> {
  const { signal } = opts;
  let lastId = opts.lastEventId ?? 0;
  let retryMs = 2000;
  let attempt = 0;
  while (!signal.aborted) {
    opts.onState?.(attempt === 0 ? 'connecting' : 'reconnecting', { attempt, delayMs: 0 });
    let done = false;
    try {
      // Asked for on every (re)connection: a Clerk token may have been renewed since.
      const headers: Record<string, string> = { authorization: `Bearer ${await resolveToken(opts.token)}`, accept: 'text/event-stream' };
      if (lastId > 0) headers['last-event-id'] = String(lastId);
      const res = await fetch(opts.url, { headers, signal, cache: 'no-store' });
      if (!res.ok) {
        const err = await toApiError(res);
        // Retrying cannot fix these; the server being briefly unavailable can be.
        if (res.status < 500 && res.status !== 429) throw err;
        throw Object.assign(new Error('retryable'), { retryable: true });
      }
      opts.onState?.('open');
      attempt = 0;
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      let ev: { id?: string; event?: string; data: string[] } = { data: [] };
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (ended) break;
        buffer += value;
        const lines = buffer.split(/\r\n|\r|\n/);
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') {
            if (ev.data.length > 0) {
              const id = ev.id !== undefined && /^\d+$/.test(ev.id) ? Number(ev.id) : undefined;
              if (id === undefined || id > lastId) {
                if (id !== undefined) lastId = id;
                let data: unknown = ev.data.join('\n');
                try {
                  data = JSON.parse(data as string);
                } catch {
                  // Keep the raw text.
                }
                if (opts.onMessage({ id: id ?? lastId, event: ev.event ?? 'message', data })) {
                  done = true;
                  await reader.cancel().catch(() => undefined);
                  break;
                }
              }
            }
            ev = { data: [] };
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          let val = colon === -1 ? '' : line.slice(colon + 1);
          if (val.startsWith(' ')) val = val.slice(1);
          if (field === 'data') ev.data.push(val);
          else if (field === 'event') ev.event = val;
          else if (field === 'id') ev.id = val;
          else if (field === 'retry' && /^\d+$/.test(val)) retryMs = Number(val);
        }
        if (done) break;
      }
    } catch (err) {
      if (signal.aborted) break;
      if (err instanceof ApiError) {
        opts.onState?.('closed');
        throw err;
      }
      // A network drop: fall through to reconnect.
    }
    if (done || signal.aborted) break;
    attempt += 1;
    // Back off on repeated failures, but never wait more than 15 s.
    const delayMs = Math.min(15_000, retryMs * Math.min(2 ** (attempt - 1), 8)) * (attempt === 1 ? 0.5 : 1);
    opts.onState?.('reconnecting', { attempt, delayMs });
    await sleep(delayMs, signal);
  }
  opts.onState?.('closed');
}
