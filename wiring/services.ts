import type { Knex } from 'knex';
import { createDb } from '../db/knex';
import { migrate } from '../db/migrate';
import { createRepositories, type Repositories } from '../db/repositories';
import { createEventBus, STORY_EVENTS, type EventBus } from '../db/events';
import { createStorage } from '../activities/storage';
import { withStorageWaits } from '../activities/storage/waits';
import type { Storage } from '../activities/storage/types';
import { databaseUrl, type Config } from '../lib/config';

/** The clients the API and the workers share: database, repositories, storage, events. */
export interface Services {
  knex: Knex;
  repos: Repositories;
  storage: Storage;
  /** Books' progress events. */
  events: EventBus;
  /** Stories' progress events (a story being written). */
  storyEvents: EventBus;
  close(): Promise<void>;
}

export async function createServices(config: Config, opts: { migrate?: boolean } = {}): Promise<Services> {
  const url = databaseUrl(config);
  const knex = createDb(url);
  // Both processes may migrate at start; migrate() queues them on an advisory lock.
  if (opts.migrate !== false) await migrate(knex);
  const repos = createRepositories(knex);
  // An unreachable store is waited for inside activities and a 503 in the API (activities/storage/waits.ts).
  const storage = withStorageWaits(createStorage(config), {
    maxWaitMs: config.storageWaitMs,
    onUnreachable: (err, op) => console.warn(`[storage] unreachable during ${op}: ${(err as Error).message}; waiting for it`),
  });
  const events = createEventBus(knex, url, config.redisUrl);
  const storyEvents = createEventBus(knex, url, config.redisUrl, STORY_EVENTS);
  return {
    knex,
    repos,
    storage,
    events,
    storyEvents,
    async close() {
      await Promise.all([events.close(), storyEvents.close()]);
      await knex.destroy();
    },
  };
}
