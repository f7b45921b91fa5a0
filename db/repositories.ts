/**
 * Every repository of the engine's data, built over one knex pool: the only way
 * the API, the activities and the scripts reach the database.
 */
import type { Knex } from 'knex';
import { createProfileRepository } from './profiles';
import { createEbookRepository } from './ebooks';
import { createActivityRepository } from './user-activities';
import { createUsageRepository } from './usage';
import { createSharingRepository } from './sharing';
import { createStoryRepository } from './stories';
import { createStoryGenerationRepository } from './story-generation';
import { createLedger } from './ledger';
import { createRegenerationRepository } from './regeneration';
import { createReconcileRepository } from './reconcile';
import { createAnalyticsRepository } from './analytics';
import { createSessionRepository } from './sessions';
import { createErasureRepository } from './erasure';

export * from './rows';
export type { BookRow, BookSelection } from './regeneration';

export function createRepositories(knex: Knex) {
  return {
    profiles: createProfileRepository(knex),
    ebooks: createEbookRepository(knex),
    activities: createActivityRepository(knex),
    usage: createUsageRepository(knex),
    sharing: createSharingRepository(knex),
    stories: createStoryRepository(knex),
    storyRuns: createStoryGenerationRepository(knex),
    ledger: createLedger(knex),
    regeneration: createRegenerationRepository(knex),
    reconcile: createReconcileRepository(knex),
    analytics: createAnalyticsRepository(knex),
    sessions: createSessionRepository(knex),
    erasure: createErasureRepository(knex),
    /** Runs `fn` in one transaction: writes of several repositories that must commit together. */
    transaction: <T>(fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> => knex.transaction(fn),
  };
}

export type Repositories = ReturnType<typeof createRepositories>;

/** The print-ready PDF's stored reference (premium plans), kept in the book's metadata at publish. */
export function printFile(book: { metadata?: Record<string, unknown> }): { key: string } | undefined {
  const files = book.metadata?.files as { print?: { key?: unknown } } | undefined;
  return typeof files?.print?.key === 'string' ? { key: files.print.key } : undefined;
}

/** The print PDF's wraparound cover, recorded beside it at publish (absent for versions made before covers). */
export function printCoverFile(book: { metadata?: Record<string, unknown> }): { key: string } | undefined {
  const files = book.metadata?.files as { printCover?: { key?: unknown } } | undefined;
  return typeof files?.printCover?.key === 'string' ? { key: files.printCover.key } : undefined;
}
