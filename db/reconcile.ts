/**
 * The reconciler's queries: the rows that still say "running" for a workflow that
 * Temporal reports closed, and the advisory lock that keeps sweeps one at a time
 * across processes.
 */
import type { Knex } from 'knex';
import type { JsonObject } from './rows';

export function createReconcileRepository(knex: Knex) {
  return {
    /** The book a closed book workflow left queued, running or waiting for its review, if any. */
    async openBookOf(workflowId: string): Promise<{ id: string } | undefined> {
      return knex('memory_books')
        .where({ workflow_id: workflowId })
        .whereIn('status', ['queued', 'running', 'awaiting_review'])
        .first('id');
    },

    /** The story a closed story workflow left generating, if any. */
    async generatingStoryOf(workflowId: string): Promise<{ id: string; metadata: JsonObject | null } | undefined> {
      return knex('stories')
        .where({ status: 'generating' })
        .andWhereRaw(`metadata->'generation'->>'workflowId' = ?`, [workflowId])
        .first('id', 'metadata');
    },

    /** The book whose revision a closed revision run left running, if any. */
    async runningRevisionOf(runId: string): Promise<{ id: string; revision: unknown } | undefined> {
      return knex('memory_books')
        .whereRaw(`revision->>'runId' = ? AND revision->>'status' = 'running'`, [runId])
        .first('id', 'revision');
    },

    /**
     * Runs `fn` holding a transaction-scoped advisory lock, or skips it when another
     * process holds the lock: released however `fn` ends.
     */
    async withLock(lock: number, fn: () => Promise<void>): Promise<void> {
      await knex.transaction(async (trx) => {
        const { rows } = await trx.raw('SELECT pg_try_advisory_xact_lock(?) AS ok', [lock]);
        if (rows[0]?.ok) await fn();
      });
    },
  };
}
