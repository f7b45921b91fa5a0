/**
 * Server-sent events from an event bus: a book's progress (`/v1/ebooks/{id}/events`)
 * or a story's (`/v1/stories/{id}/events`). A reconnecting client sends the last id
 * it saw (`Last-Event-ID`, or `?lastEventId=` where it cannot set headers) and gets
 * what came after it, each event once and in order.
 */
import type { Request, Response } from 'express';
import type { BusEvent, EventBus } from '../db/events';
import { HttpProblem } from './problem';

/** How often a comment line keeps idle proxies from closing the stream. */
const KEEP_ALIVE_MS = 15_000;

/** The streams this process serves: a stream never ends on its own, so stopping ends them. */
const openStreams = new Set<() => void>();

/**
 * Ends every open stream, cleanly (the client sees the response end, not a reset)
 * and at once: its client reconnects, to another API process, with Last-Event-ID.
 * Returns how many there were.
 */
export function endAllStreams(): number {
  const ends = [...openStreams];
  for (const end of ends) end();
  return ends.length;
}

/**
 * The id a reconnecting client last saw (`Last-Event-ID`, or `?lastEventId=`), if it
 * sent one. Anything but an event id (digits) is refused with 400 naming where it
 * came from: taking it for "no id" would start the stream somewhere the client did
 * not ask for. An id this stream never sent is a position all the same: the stream
 * goes on with the events after it (none yet, if it is beyond the latest).
 */
export function lastEventId(req: Request): number | undefined {
  // Both are checked; the header wins. An empty header is refused too: EventSource sends
  // the header only when it has an id, so an empty one is a client's mistake.
  const header = eventIdOf('header.Last-Event-ID', req.get('last-event-id'));
  const query = eventIdOf('query.lastEventId', req.query.lastEventId);
  return header ?? query;
}

function eventIdOf(field: string, given: unknown): number | undefined {
  if (given === undefined) return undefined;
  if (typeof given === 'string' && /^\d{1,15}$/.test(given)) return Number(given);
  const message = 'must be the id of an event of this stream (digits), or 0 for every run';
  throw new HttpProblem(400, 'Invalid request', `${field}: ${message}`, { errors: [{ field, message }] });
}

/** Streams the owner's events after `afterId` (default: the client's last seen id, else from the start). */
export async function streamEvents(
  req: Request,
  res: Response,
  bus: EventBus,
  ownerId: string,
  label: string,
  afterId = lastEventId(req) ?? 0,
  /** What each event's `data:` line carries (default: its data as stored). */
  dataOf: (e: BusEvent) => unknown = (e) => e.data ?? {},
): Promise<void> {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.write(`retry: 2000\n: ${label} ${ownerId}\n\n`);
  let closed = false;
  const unsubscribe = await bus.subscribe(ownerId, afterId, (e) => {
    if (closed) return;
    res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(dataOf(e))}\n\n`);
  });
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  const end = () => {
    close();
    res.end();
  };
  const close = () => {
    if (closed) return;
    closed = true;
    openStreams.delete(end);
    clearInterval(keepAlive);
    void unsubscribe();
  };
  openStreams.add(end);
  req.on('close', close);
  res.on('error', close);
}
