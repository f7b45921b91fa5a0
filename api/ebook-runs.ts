/**
 * A book's runs on its event stream. Each run — the first generation (run 1), a
 * chapter rewrite or a step run again (run N, the file version it publishes) —
 * starts with a `started` event that the API writes before it starts the run's
 * workflow, so nothing of the run comes before it. From those marks:
 * - a fresh stream starts at the latest run's `started` (a reader would otherwise
 *   take an earlier run's `completed` for the end of this one); `Last-Event-ID: 0`
 *   asks for every run;
 * - every event is sent with its run (`run` in its data), whoever published it.
 */
import type { Knex } from 'knex';
import type { BusEvent, EventBus } from '../db/events';
import type { EbookEventData } from './schemas/events';

export type RunStart = EbookEventData<'started'>;

/** Writes the run's `started` event; call it before starting the run's workflow. */
export async function announceRun(events: Pick<EventBus, 'publish'>, ebookId: string, start: RunStart): Promise<void> {
  await events.publish(ebookId, 'started', start);
}

/** Where a fresh stream of the book starts: just before its latest run's `started` (0: the whole stream). */
export async function latestRunStart(knex: Knex, ebookId: string): Promise<number> {
  const [row] = await knex('ebook_events').where({ ebook_id: ebookId, type: 'started' }).max({ last: 'id' });
  return row?.last ? Number(row.last) - 1 : 0;
}

/**
 * Stamps each event with its run: the run of the latest `started` at or before it.
 * A stream resuming mid-run learns that run from the table first.
 */
export async function runStamper(knex: Knex, ebookId: string, afterId: number): Promise<(e: BusEvent) => unknown> {
  const row = await knex('ebook_events')
    .where({ ebook_id: ebookId, type: 'started' })
    .andWhere('id', '<=', afterId)
    .orderBy('id', 'desc')
    .first('data');
  let run = typeof row?.data?.run === 'number' ? row.data.run : undefined;
  return (e) => {
    const data = (e.data ?? {}) as Record<string, unknown>;
    if (e.type === 'started' && typeof data.run === 'number') run = data.run;
    return run === undefined ? data : { ...data, run };
  };
}
