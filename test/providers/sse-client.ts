/** A plain server-sent-events reader for the tests here: what a browser's EventSource would receive. */
export interface SseEvent {
  id: number;
  event: string;
  data: any;
}

/**
 * Reads `url` until `until(events)` holds (or `timeoutMs` passes) and returns
 * every event with an id, parsed.
 */
export async function collectSse(
  url: string,
  headers: Record<string, string>,
  until: (events: SseEvent[]) => boolean,
  timeoutMs = 120_000,
): Promise<SseEvent[]> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  const events: SseEvent[] = [];
  try {
    const res = await fetch(url, { headers, signal: ctrl.signal });
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
    let pending = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      const blocks = pending.split('\n\n');
      pending = blocks.pop() ?? '';
      for (const block of blocks) {
        const field = (name: string) =>
          block
            .split('\n')
            .filter((l) => l.startsWith(`${name}: `))
            .map((l) => l.slice(name.length + 2))
            .join('\n');
        if (field('id')) events.push({ id: Number(field('id')), event: field('event'), data: JSON.parse(field('data') || 'null') });
      }
      if (until(events)) break;
    }
  } catch (err) {
    if (!ctrl.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ctrl.abort();
  }
  return events;
}
