import type { Knex } from 'knex';
import pg from 'pg';
import { pgTypes } from './knex';

/** One progress event of one book. Ids grow; per book they are delivered in id order. */
export interface EbookEvent {
  id: number;
  ebookId: string;
  type: string;
  data: unknown;
  createdAt: string;
}

export type Unsubscribe = () => Promise<void>;

/**
 * The cross-process progress channel: workers publish, API processes stream to
 * clients. PostgreSQL implements it here; a Redis implementation can take its place.
 */
export interface EventBus {
  /** Stores the event and wakes subscribers in every process; resolves to its id. */
  /** With `trx`, the event (and its notification) commits with that transaction. */
  publish(ebookId: string, type: string, data: unknown, trx?: Knex.Transaction): Promise<number>;
  /**
   * Delivers the book's events with id > `afterId` (stored ones first, then new
   * ones as they come), each once and in id order. Resolves after the stored
   * ones were delivered.
   */
  subscribe(ebookId: string, afterId: number, onEvent: (event: EbookEvent) => void): Promise<Unsubscribe>;
  close(): Promise<void>;
}

export const EVENTS_CHANNEL = 'ebook_events';
/** The LISTEN connection's application_name (how operators and tests find it). */
export const LISTENER_APPLICATION_NAME = 'ebook-events-listener';

export interface PgEventBusOptions {
  /**
   * Re-reads every subscription this often, a safety net against a connection
   * that died without telling us. 0 turns it off. Default 10 s.
   */
  pollIntervalMs?: number;
  /** Reconnect back-off bounds for the LISTEN connection. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Rows read per query while catching up. */
  batchSize?: number;
  /** Errors that have no caller to go to (lost connection, a throwing subscriber). */
  onError?: (err: unknown) => void;
}

interface Subscriber {
  ebookId: string;
  lastId: number;
  onEvent: (event: EbookEvent) => void;
  active: boolean;
  dirty: boolean;
  running?: Promise<void>;
}

interface EventRow {
  id: number | string;
  ebook_id: string;
  type: string;
  data: unknown;
  created_at: Date | string;
}

export function createPgEventBus(knex: Knex, url: string, options: PgEventBusOptions = {}): EventBus {
  const pollIntervalMs = options.pollIntervalMs ?? 10_000;
  const reconnectMinMs = options.reconnectMinMs ?? 100;
  const reconnectMaxMs = options.reconnectMaxMs ?? 5_000;
  const batchSize = options.batchSize ?? 500;
  const onError = options.onError ?? ((err: unknown) => console.error('[event-bus]', err));

  const subscribers = new Map<string, Set<Subscriber>>();
  let client: pg.Client | undefined;
  let connecting: Promise<void> | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let reconnectAttempt = 0;
  let closed = false;

  const pollTimer =
    pollIntervalMs > 0
      ? setInterval(() => {
          for (const sub of allSubscribers()) pumpInBackground(sub);
        }, pollIntervalMs).unref()
      : undefined;

  function allSubscribers(): Subscriber[] {
    return [...subscribers.values()].flatMap((set) => [...set]);
  }

  async function fetchAfter(ebookId: string, afterId: number): Promise<EbookEvent[]> {
    const rows: EventRow[] = await knex('ebook_events')
      .select('id', 'ebook_id', 'type', 'data', 'created_at')
      .where('ebook_id', ebookId)
      .andWhere('id', '>', afterId)
      .orderBy('id')
      .limit(batchSize);
    return rows.map((r) => ({
      id: Number(r.id),
      ebookId: r.ebook_id,
      type: r.type,
      data: r.data,
      createdAt: new Date(r.created_at).toISOString(),
    }));
  }

  async function drain(sub: Subscriber): Promise<void> {
    while (sub.dirty && sub.active) {
      sub.dirty = false;
      const events = await fetchAfter(sub.ebookId, sub.lastId);
      for (const event of events) {
        if (!sub.active) return;
        if (event.id <= sub.lastId) continue;
        sub.lastId = event.id;
        try {
          sub.onEvent(event);
        } catch (err) {
          onError(err);
        }
      }
      if (events.length === batchSize) sub.dirty = true;
    }
  }

  /**
   * Reads what is new for one subscriber. Calls during a read coalesce into one
   * more read afterwards, so reads never overlap and `lastId` only grows.
   */
  function pump(sub: Subscriber): Promise<void> {
    sub.dirty = true;
    if (!sub.running) {
      sub.running = drain(sub).finally(() => {
        sub.running = undefined;
        if (sub.dirty && sub.active) pumpInBackground(sub);
      });
    }
    return sub.running;
  }

  function pumpInBackground(sub: Subscriber): void {
    pump(sub).catch((err) => {
      onError(err);
      // Leave it marked; try again shortly (the database may be restarting).
      sub.dirty = true;
      setTimeout(() => {
        if (sub.active && !closed) pumpInBackground(sub);
      }, reconnectMaxMs).unref();
    });
  }

  function onNotification(msg: pg.Notification): void {
    if (msg.channel !== EVENTS_CHANNEL) return;
    let note: { id?: unknown; ebookId?: unknown };
    try {
      note = JSON.parse(msg.payload ?? '');
    } catch {
      return;
    }
    if (typeof note.ebookId !== 'string') return;
    const id = Number(note.id);
    for (const sub of subscribers.get(note.ebookId) ?? []) {
      if (!(id <= sub.lastId)) pumpInBackground(sub);
    }
  }

  function lost(c: pg.Client, err?: unknown): void {
    if (c !== client) return;
    client = undefined;
    c.end().catch(() => undefined);
    if (closed) return;
    if (err) onError(err);
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    if (closed || reconnectTimer || connecting) return;
    const delay = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** reconnectAttempt);
    reconnectAttempt += 1;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (closed) return;
      if (subscribers.size === 0) {
        reconnectAttempt = 0; // idle: the next subscribe connects
        return;
      }
      ensureListening().catch((err) => {
        onError(err);
        scheduleReconnect();
      });
    }, delay);
  }

  async function connect(): Promise<void> {
    const c = new pg.Client({
      connectionString: url,
      types: pgTypes,
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
    });
    c.on('notification', onNotification);
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    reconnectAttempt = 0;
    // Whatever was published while nobody listened is only in the table: re-read
    // from each subscriber's last delivered id.
    for (const sub of allSubscribers()) pumpInBackground(sub);
  }

  function ensureListening(): Promise<void> {
    if (client) return Promise.resolve();
    connecting ??= connect().finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  function remove(sub: Subscriber): void {
    sub.active = false;
    const set = subscribers.get(sub.ebookId);
    if (!set) return;
    set.delete(sub);
    if (set.size === 0) subscribers.delete(sub.ebookId);
  }

  return {
    async publish(ebookId, type, data, trx) {
      // One statement (one implicit transaction). The advisory lock, taken before
      // the id is drawn, makes a book's events commit in id order: a reader that
      // saw id N never later finds a smaller id committing for the same book.
      // The notification carries ids only (payloads are capped near 8000 bytes).
      const result = await (trx ?? knex).raw(
        `WITH book_lock AS (
           SELECT pg_advisory_xact_lock(hashtextextended(?, 0))
         ), inserted AS (
           INSERT INTO ebook_events (ebook_id, type, data)
           SELECT ?::uuid, ?, ?::jsonb FROM book_lock
           RETURNING id, ebook_id
         )
         SELECT id, pg_notify(?, json_build_object('id', id, 'ebookId', ebook_id)::text)
         FROM inserted`,
        [`ebook_events:${ebookId}`, ebookId, type, data === undefined ? null : JSON.stringify(data), EVENTS_CHANNEL],
      );
      return Number(result.rows[0].id);
    },

    async subscribe(ebookId, afterId, onEvent) {
      if (closed) throw new Error('event bus is closed');
      const sub: Subscriber = { ebookId, lastId: afterId, onEvent, active: true, dirty: false };
      let set = subscribers.get(ebookId);
      if (!set) subscribers.set(ebookId, (set = new Set()));
      set.add(sub);
      try {
        // LISTEN before the first read, so nothing falls between the two. While
        // a lost connection is being re-made, the reconnect re-reads for us.
        if (!client && reconnectAttempt === 0) await ensureListening();
        await pump(sub);
      } catch (err) {
        remove(sub);
        throw err;
      }
      return async () => remove(sub);
    },

    async close() {
      closed = true;
      if (pollTimer) clearInterval(pollTimer);
      if (reconnectTimer) clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      for (const sub of allSubscribers()) remove(sub);
      await connecting?.catch(() => undefined);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
