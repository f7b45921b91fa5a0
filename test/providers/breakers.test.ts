/**
 * Closing the providers' circuit breakers on purpose: a worker whose breaker opened on a
 * fault closes it when it reads a newer close time with the provider order (another worker,
 * or an admin, asked), and calls the provider again at once instead of after the cool-down.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { createRepositories } from '../../db/repositories';
import { createPgEventBus } from '../../db/events';
import { createLocalStorage } from '../../activities/storage/local';
import { createProviderCalls } from '../../activities/provider-calls';
import { createFailoverTextProvider } from '../../activities/providers/failover';
import { createOfflineTextProvider } from '../../activities/providers/offline-text';
import { createOfflineImageProvider } from '../../activities/providers/offline-image';

describe('closing the circuit breakers across workers', () => {
  let db: TestDatabase;
  let dir: string;
  before(async () => {
    db = await createTestDatabase();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ebook-breakers-'));
  });
  after(async () => {
    await db?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('a worker closes an open breaker at its next read of the provider order after a close elsewhere', async () => {
    const repos = createRepositories(db.knex);
    const bus = createPgEventBus(db.knex, db.url);
    const text = createFailoverTextProvider([createOfflineTextProvider()], { breakerCooldownMs: 600_000 });
    const calls = createProviderCalls({
      repos,
      storage: createLocalStorage(dir),
      events: bus,
      text,
      image: createOfflineImageProvider(),
      providerOrderTtlMs: 0,
    });
    try {
      // The worker has read the order once (its first call), then its breaker trips on a fault.
      await calls.tracked(undefined, 'probe', text.name, async () => 'ok');
      text.breakers[0].trip(Date.now());
      assert.ok(text.breakers[0].isOpen(Date.now()));

      // Another process (an admin's route, a reset book on another worker) closes them all.
      await createRepositories(db.knex).ledger.closeBreakers();
      await calls.tracked(undefined, 'probe', text.name, async () => 'ok');
      assert.equal(text.breakers[0].isOpen(Date.now()), false, 'the open breaker was closed');

      // Nothing newer: a breaker that trips again stays open.
      text.breakers[0].trip(Date.now());
      await calls.tracked(undefined, 'probe', text.name, async () => 'ok');
      assert.ok(text.breakers[0].isOpen(Date.now()), 'the same close time does not close it twice');
    } finally {
      await bus.close();
    }
  });
});
