import type { Knex } from 'knex';
import pg from 'pg';
import Redis, { type RedisOptions } from 'ioredis';
import { pgTypes } from './knex';

/**
 * One progress event of one book (or story: its owner). Ids grow; per owner they
 * are delivered in id order.
 */
export interface BusEvent {
  id: number;
  /** The book or story the event belongs to. */
  ownerId: string;
  type: string;
  data: unknown;
  createdAt: string;
}

/**
 * What a bus carries: a book's events or a story's. Each kind has its own table
 * (its rows go with their owner's), NOTIFY channel and Redis channels; the
 * delivery rules are the same.
 */
export interface EventStream {
  table: string;
  /** The table's column naming the owner (a uuid referencing the book or story). */
  ownerColumn: string;
  /** The PostgreSQL NOTIFY channel. */
  channel: string;
  /** Prefix of the Redis channels (`<prefix>:<ownerId>`) and connection names. */
  redisPrefix: string;
  /** The database function that inserts one event for the Redis bus (migration 20251127061000). */
  insertFunction: string;
}

export const EBOOK_EVENTS: EventStream = {
  table: 'ebook_events',
  ownerColumn: 'ebook_id',
  channel: 'ebook_events',
  redisPrefix: 'ebook-events',
  insertFunction: 'insert_ebook_event',
};

export const STORY_EVENTS: EventStream = {
  table: 'story_events',
  ownerColumn: 'story_id',
  channel: 'story_events',
  redisPrefix: 'story-events',
  insertFunction: 'insert_story_event',
};

export type Unsubscribe = () => Promise<void>;

/**
 * The cross-process progress channel: workers publish, API processes stream to
 * clients. Two implementations: PostgreSQL alone (LISTEN/NOTIFY, the embedded
 * default) and Redis pub/sub for the live fan-out when REDIS_URL is set; both keep
 * the `ebook_events` rows as the record that `Last-Event-ID` resumes from.
 */
export interface EventBus {
  /** Stores the event and wakes subscribers in every process; resolves to its id. */
  /** With `trx`, the event (and its notification) commits with that transaction. */
  publish(ownerId: string, type: string, data: unknown, trx?: Knex.Transaction): Promise<number>;
  /**
   * Delivers the owner's events with id > `afterId` (stored ones first, then new
   * ones as they come), each once and in id order. Resolves after the stored
   * ones were delivered.
   */
  subscribe(ownerId: string, afterId: number, onEvent: (event: BusEvent) => void): Promise<Unsubscribe>;
  close(): Promise<void>;
}

export const EVENTS_CHANNEL = EBOOK_EVENTS.channel;
/** The LISTEN connection's application_name (how operators and tests find it). */
export const listenerApplicationName = (stream: EventStream = EBOOK_EVENTS) => `${stream.redisPrefix}-listener`;
export const LISTENER_APPLICATION_NAME = listenerApplicationName(EBOOK_EVENTS);

export interface PgEventBusOptions {
  /** Books' events (the default) or stories'. */
  stream?: EventStream;
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
  ownerId: string;
  lastId: number;
  onEvent: (event: BusEvent) => void;
  active: boolean;
  dirty: boolean;
  running?: Promise<void>;
}

interface EventRow {
  id: number | string;
  owner_id: string;
  type: string;
  data: unknown;
  created_at: Date | string;
}

interface CatchUpOptions {
  stream: EventStream;
  pollIntervalMs: number;
  retryMs: number;
  batchSize: number;
  /** Table reads for subscribers in flight at once (default 3), so request handlers keep pool connections. */
  maxConcurrentReads?: number;
  onError: (err: unknown) => void;
}

/**
 * The subscriber bookkeeping both buses share: each subscriber reads the table
 * after its last delivered id ("pumps"), never two reads at once, so `lastId`
 * only grows and every event is delivered once, in id order.
 */
function createSubscriptions(knex: Knex, opts: CatchUpOptions) {
  const { table, ownerColumn } = opts.stream;
  const byOwner = new Map<string, Set<Subscriber>>();
  let closed = false;

  const all = (): Subscriber[] => [...byOwner.values()].flatMap((set) => [...set]);

  const pollTimer = opts.pollIntervalMs > 0 ? setInterval(() => void safetyNet(), opts.pollIntervalMs).unref() : undefined;
  let netRunning = false;

  /**
   * The periodic safety net: one query for every book subscribed here (its newest
   * event id), then a read only for the subscribers behind it. Reading for every
   * subscriber instead sent a thousand queries at once through the pool every
   * interval, and status reads queued behind them for hundreds of milliseconds.
   */
  async function safetyNet(): Promise<void> {
    if (netRunning || closed || byOwner.size === 0) return;
    netRunning = true;
    try {
      const books = [...byOwner.keys()];
      for (let i = 0; i < books.length; i += 1000) {
        const { rows } = await knex.raw(
          `SELECT b.id AS owner_id, (SELECT max(e.id) FROM ?? e WHERE e.?? = b.id) AS last_id
             FROM unnest(?::uuid[]) AS b(id)`,
          [table, ownerColumn, books.slice(i, i + 1000)],
        );
        for (const r of rows as Array<{ owner_id: string; last_id: string | null }>) {
          const last = Number(r.last_id ?? 0);
          for (const sub of byOwner.get(r.owner_id) ?? []) if (sub.lastId < last) pumpInBackground(sub);
        }
      }
    } catch (err) {
      opts.onError(err); // the next interval tries again
    } finally {
      netRunning = false;
    }
  }

  /**
   * Table reads for subscribers, coalesced per book: every subscriber of a book that
   * asks while no read of it is running shares the next one (from the lowest id they
   * need), and a subscriber that asks while one runs waits for the one after, which
   * starts after it asked and so sees what had committed by then. A burst of events
   * (a book's chapters publishing at once, ten readers of each book) costs one query
   * per book instead of one per reader, and at most `maxConcurrentReads` queries hold
   * pool connections at once: requests (status reads) never queue behind the bus.
   */
  const reads = new Map<string, { running: boolean; waiting: Array<{ afterId: number; done: (r: Read | Error) => void }> }>();
  type Read = { events: BusEvent[]; more: boolean };
  const maxReads = Math.max(1, opts.maxConcurrentReads ?? 3);
  let readsInFlight = 0;
  const readSlots: Array<() => void> = [];

  async function withReadSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (readsInFlight >= maxReads) await new Promise<void>((r) => readSlots.push(r));
    readsInFlight++;
    try {
      return await fn();
    } finally {
      readsInFlight--;
      readSlots.shift()?.();
    }
  }

  async function queryAfter(ownerId: string, afterId: number): Promise<Read> {
    const rows: EventRow[] = await withReadSlot(() =>
      knex(table)
        .select('id', `${ownerColumn} as owner_id`, 'type', 'data', 'created_at')
        .where(ownerColumn, ownerId)
        .andWhere('id', '>', afterId)
        .orderBy('id')
        .limit(opts.batchSize),
    );
    const events = rows.map((r) => ({
      id: Number(r.id),
      ownerId: r.owner_id,
      type: r.type,
      data: r.data,
      createdAt: new Date(r.created_at).toISOString(),
    }));
    return { events, more: rows.length === opts.batchSize };
  }

  async function runReads(ownerId: string): Promise<void> {
    const book = reads.get(ownerId)!;
    while (book.waiting.length > 0) {
      const batch = book.waiting.splice(0);
      const from = Math.min(...batch.map((w) => w.afterId));
      let read: Read | Error;
      try {
        read = await queryAfter(ownerId, from);
      } catch (err) {
        read = err instanceof Error ? err : new Error(String(err));
      }
      for (const w of batch) w.done(read);
    }
    reads.delete(ownerId);
  }

  /** The events after `afterId` (at most a batch; `more` when the batch was full). */
  function fetchAfter(ownerId: string, afterId: number): Promise<Read> {
    return new Promise<Read>((resolve, reject) => {
      let book = reads.get(ownerId);
      if (!book) reads.set(ownerId, (book = { running: false, waiting: [] }));
      book.waiting.push({
        afterId,
        done: (r) => (r instanceof Error ? reject(r) : resolve({ events: r.events.filter((e) => e.id > afterId), more: r.more })),
      });
      // Started a microtask later, so the subscribers that ask in the same turn (one Redis
      // message, one safety-net pass) share the read.
      if (!book.running) {
        book.running = true;
        queueMicrotask(() => void runReads(ownerId));
      }
    });
  }

  /** Hands one event to a subscriber whose last delivered id is below it. */
  function deliver(sub: Subscriber, event: BusEvent): void {
    sub.lastId = event.id;
    try {
      sub.onEvent(event);
    } catch (err) {
      opts.onError(err);
    }
  }

  async function drain(sub: Subscriber): Promise<void> {
    while (sub.dirty && sub.active) {
      sub.dirty = false;
      const { events, more } = await fetchAfter(sub.ownerId, sub.lastId);
      for (const event of events) {
        if (!sub.active) return;
        if (event.id <= sub.lastId) continue;
        deliver(sub, event);
      }
      if (more) sub.dirty = true;
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
      opts.onError(err);
      // Leave it marked; try again shortly (the database may be restarting).
      sub.dirty = true;
      setTimeout(() => {
        if (sub.active && !closed) pumpInBackground(sub);
      }, opts.retryMs).unref();
    });
  }

  return {
    byOwner,
    all,
    deliver,
    pump,
    pumpInBackground,
    /** One pass of the safety net now (one query for every owner subscribed here). */
    poll: () => safetyNet(),
    get closed() {
      return closed;
    },
    /** Adds a subscriber; `isFirst` tells whether it is its book's first here. */
    add(ownerId: string, afterId: number, onEvent: (event: BusEvent) => void): { sub: Subscriber; isFirst: boolean } {
      if (closed) throw new Error('event bus is closed');
      const sub: Subscriber = { ownerId, lastId: afterId, onEvent, active: true, dirty: false };
      let set = byOwner.get(ownerId);
      const isFirst = !set;
      if (!set) byOwner.set(ownerId, (set = new Set()));
      set.add(sub);
      return { sub, isFirst };
    },
    /** Removes a subscriber; true when it was its book's last here. */
    remove(sub: Subscriber): boolean {
      sub.active = false;
      const set = byOwner.get(sub.ownerId);
      if (!set || !set.delete(sub)) return false;
      if (set.size > 0) return false;
      byOwner.delete(sub.ownerId);
      return true;
    },
    close(): void {
      closed = true;
      if (pollTimer) clearInterval(pollTimer);
      for (const sub of all()) sub.active = false;
      byOwner.clear();
    },
  };
}

/** One owner's advisory-lock key: its events commit in id order. */
const ownerLockKey = (stream: EventStream, ownerId: string) => `${stream.table}:${ownerId}`;
const jsonData = (data: unknown) => (data === undefined ? null : JSON.stringify(data));

export function createPgEventBus(knex: Knex, url: string, options: PgEventBusOptions = {}): EventBus {
  const reconnectMinMs = options.reconnectMinMs ?? 100;
  const reconnectMaxMs = options.reconnectMaxMs ?? 5_000;
  const onError = options.onError ?? ((err: unknown) => console.error('[event-bus]', err));
  const stream = options.stream ?? EBOOK_EVENTS;
  const subs = createSubscriptions(knex, {
    stream,
    pollIntervalMs: options.pollIntervalMs ?? 10_000,
    retryMs: reconnectMaxMs,
    batchSize: options.batchSize ?? 500,
    onError,
  });

  let client: pg.Client | undefined;
  let connecting: Promise<void> | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let reconnectAttempt = 0;

  function onNotification(msg: pg.Notification): void {
    if (msg.channel !== stream.channel) return;
    let note: { id?: unknown; ownerId?: unknown };
    try {
      note = JSON.parse(msg.payload ?? '');
    } catch {
      return;
    }
    if (typeof note.ownerId !== 'string') return;
    const id = Number(note.id);
    for (const sub of subs.byOwner.get(note.ownerId) ?? []) {
      if (!(id <= sub.lastId)) subs.pumpInBackground(sub);
    }
  }

  function lost(c: pg.Client, err?: unknown): void {
    if (c !== client) return;
    client = undefined;
    c.end().catch(() => undefined);
    if (subs.closed) return;
    if (err) onError(err);
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    if (subs.closed || reconnectTimer || connecting) return;
    const delay = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** reconnectAttempt);
    reconnectAttempt += 1;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (subs.closed) return;
      if (subs.byOwner.size === 0) {
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
      application_name: listenerApplicationName(stream),
      keepAlive: true,
    });
    c.on('notification', onNotification);
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${stream.channel}`);
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    if (subs.closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    reconnectAttempt = 0;
    // Whatever was published while nobody listened is only in the table: re-read
    // from each subscriber's last delivered id.
    for (const sub of subs.all()) subs.pumpInBackground(sub);
  }

  function ensureListening(): Promise<void> {
    if (client) return Promise.resolve();
    connecting ??= connect().finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  return {
    async publish(ownerId, type, data, trx) {
      // One statement (one implicit transaction). The advisory lock, taken before
      // the id is drawn, makes an owner's events commit in id order: a reader that
      // saw id N never later finds a smaller id committing for the same owner.
      // The notification carries ids only (payloads are capped near 8000 bytes).
      const result = await (trx ?? knex).raw(
        `WITH owner_lock AS (
           SELECT pg_advisory_xact_lock(hashtextextended(?, 0))
         ), inserted AS (
           INSERT INTO ?? (??, type, data)
           SELECT ?::uuid, ?, ?::jsonb FROM owner_lock
           RETURNING id, ?? AS owner_id
         )
         SELECT id, pg_notify(?, json_build_object('id', id, 'ownerId', owner_id)::text)
         FROM inserted`,
        [
          ownerLockKey(stream, ownerId),
          stream.table,
          stream.ownerColumn,
          ownerId,
          type,
          jsonData(data),
          stream.ownerColumn,
          stream.channel,
        ],
      );
      return Number(result.rows[0].id);
    },

    async subscribe(ownerId, afterId, onEvent) {
      const { sub } = subs.add(ownerId, afterId, onEvent);
      try {
        // LISTEN before the first read, so nothing falls between the two. While
        // a lost connection is being re-made, the reconnect re-reads for us.
        if (!client && reconnectAttempt === 0) await ensureListening();
        await subs.pump(sub);
      } catch (err) {
        subs.remove(sub);
        throw err;
      }
      return async () => {
        subs.remove(sub);
      };
    },

    async close() {
      subs.close();
      if (reconnectTimer) clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      await connecting?.catch(() => undefined);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}

export interface RedisEventBusOptions {
  /** Books' events (the default) or stories'. */
  stream?: EventStream;
  /** Re-reads every subscription this often (safety net, as for PostgreSQL). 0 turns it off. Default 10 s. */
  pollIntervalMs?: number;
  /** Rows read per query while catching up. */
  batchSize?: number;
  /** Delay before a failed catch-up read is tried again. */
  retryMs?: number;
  onError?: (err: unknown) => void;
  /** CLIENT SETNAME prefix of the bus's connections (`<name>-publisher`, `<name>-subscriber`); default the stream's Redis prefix. */
  clientName?: string;
  /** How long a message that came before its predecessor waits for it before the table is read (default 25 ms). */
  reorderWaitMs?: number;
  /** While Redis is unreachable, the table is read this often instead (default 1 s). */
  degradedPollMs?: number;
}

/** The Redis pub/sub channel of one book's (or story's) live events. */
export const redisEventChannel = (ownerId: string, stream: EventStream = EBOOK_EVENTS) => `${stream.redisPrefix}:${ownerId}`;

/** What goes over Redis: the whole event, plus the id of the owner's event before it. */
interface RedisEventMessage extends BusEvent {
  prevId: number;
}

/**
 * Events with Redis pub/sub as the live fan-out (REDIS_URL set).
 *
 * The `ebook_events` rows stay the record, rather than moving the events into
 * Redis Streams: a provider call's event commits in the same transaction as its
 * cost-ledger row (see activities' recordCall), ids stay the same bigserial ids
 * whichever bus a deployment runs (a Last-Event-ID stays valid when REDIS_URL is
 * turned on or off), and a reader resuming a finished book an hour later needs
 * no stream retention to be tuned. Redis carries each event, whole, once it has
 * committed, to every API process subscribed to the book's channel, so live
 * delivery costs the database nothing per event and subscriber (PostgreSQL
 * NOTIFY wakes every listener, which then reads the table).
 *
 * Pub/sub is at-most-once and two processes' messages may cross on the way, so
 * each message carries `prevId`, the book's previous event id, read under the
 * book's advisory lock: a subscriber takes a message directly only when it
 * continues exactly from what it last delivered; otherwise (a gap, a crossing,
 * a message lost while Redis was unreachable) it reads the table after its last
 * id. Hence no gaps, no repeats, id order, with or without Redis hiccups.
 */
export function createRedisEventBus(knex: Knex, redisUrl: string, options: RedisEventBusOptions = {}): EventBus {
  const onError = options.onError ?? ((err: unknown) => console.error('[event-bus]', err));
  const stream = options.stream ?? EBOOK_EVENTS;
  const clientName = options.clientName ?? stream.redisPrefix;
  const channelOf = (ownerId: string) => redisEventChannel(ownerId, stream);
  const subs = createSubscriptions(knex, {
    stream,
    pollIntervalMs: options.pollIntervalMs ?? 10_000,
    retryMs: options.retryMs ?? 2_000,
    batchSize: options.batchSize ?? 500,
    onError,
  });
  // A subscribed connection can do nothing but subscribe, so publishing has its
  // own. Both connect on first use: an API process that never streams opens no
  // subscriber, a worker no subscriber either.
  let publisher: Redis | undefined;
  let subscriber: Redis | undefined;
  let lostSinceReady = false;
  /**
   * Redis unreachable (a connection closed, or a command failed): publishes skip it
   * (the row is committed; readers find it in the table), SUBSCRIBEs go out in the
   * background, and every subscription here reads the table every `degradedPollMs`
   * until the subscriber connection is ready again. Nothing waits on Redis meanwhile.
   */
  let publisherDown = false;
  let subscriberDown = false;
  let degradedTimer: NodeJS.Timeout | undefined;
  const degradedPollMs = options.degradedPollMs ?? 1_000;
  /** Per book, the SUBSCRIBE every local subscriber waits for before its first read. */
  const channels = new Map<string, Promise<unknown>>();
  /** Messages that came before their predecessor, per subscriber, by predecessor id. */
  const early = new Map<Subscriber, { byPrev: Map<number, RedisEventMessage>; timer?: NodeJS.Timeout }>();
  const reorderWaitMs = options.reorderWaitMs ?? 25;
  const MAX_HELD = 64;

  const connection = (name: string, extra: RedisOptions = {}) =>
    new Redis(redisUrl, {
      ...extra,
      connectionName: name,
      // A publish must not wait for a Redis outage: the row is committed, and the
      // subscribers find it in the table on their next gap or poll.
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(2_000, 50 * 2 ** Math.min(times, 6)),
    });

  /** An outage's first error is reported; the reconnect attempts after it are not. */
  const reportOnce = (down: boolean, err: unknown) => {
    if (!down) onError(err);
  };

  function setSubscriberDown(down: boolean): void {
    subscriberDown = down;
    if (down && !degradedTimer && !subs.closed) {
      degradedTimer = setInterval(() => void subs.poll(), degradedPollMs).unref();
    } else if (!down && degradedTimer) {
      clearInterval(degradedTimer);
      degradedTimer = undefined;
    }
  }

  function onMessage(channel: string, raw: string): void {
    let msg: RedisEventMessage;
    try {
      msg = JSON.parse(raw);
    } catch (err) {
      onError(err);
      return;
    }
    if (channel !== channelOf(msg.ownerId)) return;
    for (const sub of subs.byOwner.get(msg.ownerId) ?? []) {
      if (msg.id <= sub.lastId) continue;
      if (!sub.running && msg.prevId === sub.lastId) deliverChain(sub, msg);
      else if (!sub.running && msg.prevId > sub.lastId) holdEarly(sub, msg);
      else subs.pumpInBackground(sub);
    }
  }

  const withoutPrev = ({ prevId: _prev, ...event }: RedisEventMessage): BusEvent => event;

  /** Delivers `msg`, then any held messages that now continue the chain. */
  function deliverChain(sub: Subscriber, msg: RedisEventMessage): void {
    subs.deliver(sub, withoutPrev(msg));
    const held = early.get(sub);
    if (!held) return;
    for (let next = held.byPrev.get(sub.lastId); next && sub.active; next = held.byPrev.get(sub.lastId)) {
      held.byPrev.delete(next.prevId);
      subs.deliver(sub, withoutPrev(next));
    }
    for (const prev of held.byPrev.keys()) if (prev < sub.lastId) held.byPrev.delete(prev);
    if (held.byPrev.size === 0) dropHeld(sub);
  }

  /**
   * A message whose predecessor has not come yet: two publishers' messages crossed
   * on the way (a book's chapters publish at once). The predecessor is usually a
   * millisecond behind, so the message waits a moment for it instead of sending
   * every subscriber of the book to the table; only if it does not come (lost) is
   * the table read.
   */
  function holdEarly(sub: Subscriber, msg: RedisEventMessage): void {
    let held = early.get(sub);
    if (!held) early.set(sub, (held = { byPrev: new Map() }));
    held.byPrev.set(msg.prevId, msg);
    if (held.byPrev.size > MAX_HELD) {
      dropHeld(sub);
      subs.pumpInBackground(sub);
      return;
    }
    held.timer ??= setTimeout(() => {
      early.delete(sub);
      if (sub.active) subs.pumpInBackground(sub);
    }, reorderWaitMs).unref();
  }

  function dropHeld(sub: Subscriber): void {
    clearTimeout(early.get(sub)?.timer);
    early.delete(sub);
  }

  function ensureSubscriber(): Redis {
    if (subscriber) return subscriber;
    // No ready check (INFO) on this one: a SUBSCRIBE may go out as soon as the socket
    // connects, which puts the connection in subscriber mode, where INFO is refused;
    // with the check, that failed the connection and started it over, again and
    // again while subscriptions kept coming.
    const s = connection(`${clientName}-subscriber`, { enableReadyCheck: false });
    s.on('message', onMessage);
    s.on('error', (err) => reportOnce(subscriberDown, err));
    s.on('close', () => {
      lostSinceReady = true;
      setSubscriberDown(true);
    });
    s.on('ready', () => {
      setSubscriberDown(false);
      // ioredis subscribes again by itself to what it had; what was published meanwhile is only in the table.
      if (!lostSinceReady) return;
      lostSinceReady = false;
      // SUBSCRIBEs that failed while Redis was away are not among what ioredis restores:
      // every book subscribed here is asked for again (twice is harmless).
      const owners = [...subs.byOwner.keys()];
      if (owners.length > 0) s.subscribe(...owners.map(channelOf)).catch(onError);
      // It sends the SUBSCRIBEs right after 'ready': a PING queued behind them answers
      // once they are active, so the re-read below cannot miss an event in between.
      setImmediate(() => {
        s.ping()
          .catch(() => undefined)
          .finally(() => {
            for (const sub of subs.all()) subs.pumpInBackground(sub);
          });
      });
    });
    subscriber = s;
    return s;
  }

  async function sendToRedis(msg: RedisEventMessage): Promise<void> {
    // A transaction that commits after close() has nobody left to tell in this process.
    if (subs.closed) return;
    if (!publisher) {
      const p = connection(`${clientName}-publisher`);
      p.on('error', (err) => reportOnce(publisherDown, err));
      p.on('close', () => {
        publisherDown = true;
      });
      p.on('ready', () => {
        publisherDown = false;
      });
      publisher = p;
    }
    // Redis known to be away: the event is in the table, which readers fall back to; a
    // publish would only wait for the next reconnect attempt to fail.
    if (publisherDown) return;
    try {
      await publisher.publish(channelOf(msg.ownerId), JSON.stringify(msg));
    } catch (err) {
      reportOnce(publisherDown, err);
      publisherDown = publisher.status !== 'ready';
    }
  }

  /**
   * Inserts under the owner's lock (held until the transaction ends: `trx`'s, or the
   * call's own) and returns the event with its predecessor's id, read after the lock.
   * One round trip: the database function does both steps (see its migration).
   */
  async function insert(db: Knex | Knex.Transaction, ownerId: string, type: string, data: unknown): Promise<RedisEventMessage> {
    const { rows } = await db.raw(`SELECT id, created_at, prev_id FROM ??(?, ?::uuid, ?, ?::jsonb)`, [
      stream.insertFunction,
      ownerLockKey(stream, ownerId),
      ownerId,
      type,
      jsonData(data),
    ]);
    return {
      id: Number(rows[0].id),
      prevId: Number(rows[0].prev_id),
      ownerId,
      type,
      data: data === undefined ? null : data,
      createdAt: new Date(rows[0].created_at).toISOString(),
    };
  }

  async function leave(sub: Subscriber): Promise<void> {
    dropHeld(sub);
    if (!subs.remove(sub)) return;
    channels.delete(sub.ownerId);
    await subscriber?.unsubscribe(channelOf(sub.ownerId)).catch(onError);
  }

  return {
    async publish(ownerId, type, data, trx) {
      if (trx) {
        const msg = await insert(trx, ownerId, type, data);
        // Told to Redis only once the caller's transaction has committed (never for a rollback).
        trx.executionPromise.then(
          () => sendToRedis(msg),
          () => undefined,
        );
        return msg.id;
      }
      const msg = await insert(knex, ownerId, type, data);
      await sendToRedis(msg);
      return msg.id;
    },

    async subscribe(ownerId, afterId, onEvent) {
      const { sub, isFirst } = subs.add(ownerId, afterId, onEvent);
      try {
        // Subscribed before the first read, so nothing falls between the two. With Redis
        // away the SUBSCRIBE fails (or waits): the stream goes on from the table, read
        // every `degradedPollMs`, and the channel is subscribed again once Redis is back.
        if (isFirst) {
          const subscribing = ensureSubscriber()
            .subscribe(channelOf(ownerId))
            .catch((err: unknown) => {
              reportOnce(subscriberDown, err);
              setSubscriberDown(true);
            });
          channels.set(ownerId, subscribing);
        }
        if (!subscriberDown) await channels.get(ownerId);
        await subs.pump(sub);
      } catch (err) {
        await leave(sub);
        throw err;
      }
      return () => leave(sub);
    },

    async close() {
      subs.close();
      setSubscriberDown(false);
      for (const sub of [...early.keys()]) dropHeld(sub);
      await Promise.all(
        [publisher, subscriber].map((c) => c?.quit().catch(() => c.disconnect())),
      );
      publisher = subscriber = undefined;
    },
  };
}

/**
 * The bus of a deployment for one kind of events (books' by default): Redis pub/sub
 * for the live fan-out when `redisUrl` is set, else PostgreSQL alone.
 */
export function createEventBus(knex: Knex, databaseUrl: string, redisUrl?: string, stream: EventStream = EBOOK_EVENTS): EventBus {
  return redisUrl ? createRedisEventBus(knex, redisUrl, { stream }) : createPgEventBus(knex, databaseUrl, { stream });
}
