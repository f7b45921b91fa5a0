import type { Knex } from 'knex';
import * as initialSchema from './migrations/20251127000000_initial_schema';
import * as allowancesIdempotency from './migrations/20251127010000_allowances_idempotency';
import * as rateLimits from './migrations/20251127020000_rate_limits';
import * as storiesViews from './migrations/20251127030000_stories_views';
import * as costLedger from './migrations/20251127040000_cost_ledger';
import * as sharingRevisions from './migrations/20251127050000_sharing_revisions';
import * as ledgerBeyondBooks from './migrations/20251127051000_ledger_beyond_books';
import * as storyEvents from './migrations/20251127060000_story_events';
import * as eventInsertFunctions from './migrations/20251127061000_event_insert_functions';
import * as operatorResets from './migrations/20261205000000_operator_resets';
import * as authSessions from './migrations/20261205160000_auth_sessions';
import * as outlineReview from './migrations/20261205170000_outline_review';
import * as erasures from './migrations/20261205180000_erasures';
import * as waitingFor from './migrations/20261205190000_waiting_for';
import * as fileVersionAt from './migrations/20261205191000_file_version_at';
import * as paidResults from './migrations/20261205200000_paid_results';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Migrations listed in code rather than found by scanning a folder: the same
 * list works under tsx, compiled JavaScript and a bundle. Names are the file
 * names without extension and never change once released; append new ones.
 */
const MIGRATIONS: Array<readonly [name: string, migration: Migration]> = [
  ['20251127000000_initial_schema', initialSchema],
  ['20251127010000_allowances_idempotency', allowancesIdempotency],
  ['20251127020000_rate_limits', rateLimits],
  ['20251127030000_stories_views', storiesViews],
  ['20251127040000_cost_ledger', costLedger],
  ['20251127050000_sharing_revisions', sharingRevisions],
  ['20251127051000_ledger_beyond_books', ledgerBeyondBooks],
  ['20251127060000_story_events', storyEvents],
  ['20251127061000_event_insert_functions', eventInsertFunctions],
  ['20261205000000_operator_resets', operatorResets],
  ['20261205160000_auth_sessions', authSessions],
  ['20261205170000_outline_review', outlineReview],
  ['20261205180000_erasures', erasures],
  ['20261205190000_waiting_for', waitingFor],
  ['20261205191000_file_version_at', fileVersionAt],
  ['20261205200000_paid_results', paidResults],
];

/** Names of every migration, in the order they apply. */
export const MIGRATION_NAMES: readonly string[] = MIGRATIONS.map(([name]) => name);

const migrationSource: Knex.MigrationSource<readonly [string, Migration]> = {
  async getMigrations() {
    return MIGRATIONS;
  },
  getMigrationName([name]) {
    return name;
  },
  async getMigration([, migration]) {
    return migration;
  },
};

export const migrationConfig: Knex.MigratorConfig = {
  migrationSource,
  tableName: 'knex_migrations',
};

/** Any constant works; it only has to be the same in every process of the engine. */
const MIGRATION_LOCK_KEY = 0x65626f6f6b; // "ebook"

/**
 * Brings the schema up to date. Safe to call from several processes at once.
 *
 * knex's own lock is not enough for that: a second caller fails with
 * MigrationLocked instead of waiting, and two callers on an empty database
 * race to create knex's bookkeeping tables. So callers queue on a transaction-
 * scoped advisory lock held on one pooled connection while knex migrates on
 * another (the pool therefore needs at least two connections).
 */
export async function migrate(knex: Knex): Promise<string[]> {
  assertTwoConnections(knex);
  return knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    const [, applied] = (await knex.migrate.latest(migrationConfig)) as [number, string[]];
    return applied;
  });
}

function assertTwoConnections(knex: Knex): void {
  const max = (knex.client.config as Knex.Config).pool?.max;
  if (max !== undefined && max < 2) {
    throw new Error(`migrate() needs a pool of at least 2 connections (this one has ${max})`);
  }
}

/** Undoes every migration (tests and local resets only). */
export async function rollbackAll(knex: Knex): Promise<void> {
  assertTwoConnections(knex);
  await knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    await knex.migrate.rollback(migrationConfig, true);
  });
}
