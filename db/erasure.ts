/**
 * The queries of erasure (workflows/erase.ts): what a book or a user left behind
 * (ids only, for the storage prefixes and the runs to stop), deleting their rows,
 * and the audit entry. Rows that reference a book or a profile go with it by
 * ON DELETE CASCADE (events, ledger lines, activities, allowances, views); what
 * holds a Clerk user id as text (idempotent replays of the user's answers) is
 * deleted here by hand.
 */
import type { Knex } from 'knex';

const TERMINAL_BOOK = ['completed', 'failed', 'cancelled'];

export interface RunningWork {
  /** Workflow ids to cancel: the book's own run (or a revision of it), a story's current run. */
  workflowIds: string[];
}

export interface UserFootprint {
  profileId: string;
  ebookIds: string[];
  storyIds: string[];
}

export interface ErasureAudit {
  workflowId: string;
  subjectKind: 'ebook' | 'user';
  subjectId: string;
  requestedBy: string;
  source: string;
  counts: Record<string, number>;
  requestedAt: string;
}

export function createErasureRepository(knex: Knex) {
  /** A book's workflow ids that may still run: its own and a revision in flight. */
  const bookRuns = (rows: Array<{ id: string; workflow_id: string | null; status: string; revision: unknown }>) =>
    rows.flatMap((b) => {
      const ids: string[] = [];
      if (!TERMINAL_BOOK.includes(b.status)) ids.push(b.workflow_id ?? `ebook-${b.id}`);
      const rev = b.revision as { workflowId?: unknown; status?: unknown } | null;
      if (rev && typeof rev.workflowId === 'string' && rev.status === 'running') ids.push(rev.workflowId);
      return ids;
    });

  return {
    /** The Clerk user id of a profile (a book's owner, for the erasure's search attribute and audit). */
    async clerkIdOf(profileId: string): Promise<string | undefined> {
      return (await knex('profiles').where({ id: profileId }).first('clerk_user_id'))?.clerk_user_id as string | undefined;
    },

    /** The user's profile and the ids of everything they own; undefined when no profile is left. */
    async userFootprint(clerkUserId: string): Promise<UserFootprint | undefined> {
      const profile = await knex('profiles').where({ clerk_user_id: clerkUserId }).first('id');
      if (!profile) return undefined;
      const [books, stories] = await Promise.all([
        knex('memory_books').where({ user_id: profile.id }).pluck('id'),
        knex('stories').where({ user_id: profile.id }).pluck('id'),
      ]);
      return { profileId: profile.id as string, ebookIds: books as string[], storyIds: stories as string[] };
    },

    /** Runs of the user's books and stories still going (none once they are stopped). */
    async runningWork(profileId: string): Promise<RunningWork> {
      const books = await knex('memory_books').where({ user_id: profileId }).select('id', 'workflow_id', 'status', 'revision');
      const stories = await knex('stories')
        .where({ user_id: profileId, status: 'generating' })
        .select('id', knex.raw(`(metadata->'generation'->>'revision')::int AS revision`));
      return {
        workflowIds: [
          ...bookRuns(books),
          ...stories.filter((s: { revision: number | null }) => s.revision).map((s: { id: string; revision: number }) => `story-${s.id}-r${s.revision}`),
        ],
      };
    },

    /** Runs of one book still going. */
    async bookRunning(ebookId: string): Promise<RunningWork> {
      const rows = await knex('memory_books').where({ id: ebookId }).select('id', 'workflow_id', 'status', 'revision');
      return { workflowIds: bookRuns(rows) };
    },

    /** Deletes one book's row (its events and ledger lines go with it); counts what went. */
    async deleteBook(ebookId: string): Promise<Record<string, number>> {
      return knex.transaction(async (trx) => {
        const events = await trx('ebook_events').where({ ebook_id: ebookId }).count<{ n: string }[]>({ n: '*' });
        const books = await trx('memory_books').where({ id: ebookId }).delete();
        return { books, bookEvents: books ? Number(events[0].n) : 0 };
      });
    },

    /**
     * Deletes everything of a user in one transaction: stored answers kept for
     * Idempotency-Key replays (by Clerk id), books, stories and the profile (with
     * everything that cascades from them).
     */
    async deleteUser(profileId: string, clerkUserId: string): Promise<Record<string, number>> {
      return knex.transaction(async (trx) => {
        const count = async (table: string, where: Record<string, string>) =>
          Number((await trx(table).where(where).count<{ n: string }[]>({ n: '*' }))[0].n);
        const activities = await count('user_activities', { user_id: profileId });
        const ledger = await count('cost_ledger', { user_id: profileId });
        const idempotency = await trx('idempotency_keys').where({ user_id: clerkUserId }).delete();
        const books = await trx('memory_books').where({ user_id: profileId }).delete();
        const stories = await trx('stories').where({ user_id: profileId }).delete();
        const profiles = await trx('profiles').where({ id: profileId }).delete();
        return { profiles, books, stories, activities, ledgerLines: ledger, idempotencyKeys: idempotency };
      });
    },

    /** The audit entry: once per erasure workflow, whatever the retries. */
    async record(entry: ErasureAudit): Promise<void> {
      await knex('erasures')
        .insert({
          workflow_id: entry.workflowId,
          subject_kind: entry.subjectKind,
          subject_id: entry.subjectId,
          requested_by: entry.requestedBy,
          source: entry.source,
          counts: JSON.stringify(entry.counts),
          requested_at: entry.requestedAt,
        })
        .onConflict('workflow_id')
        .ignore();
    },

    /** Audit entries about one subject, newest first (tests, operators). */
    async entries(subjectKind: 'ebook' | 'user', subjectId: string) {
      return knex('erasures').where({ subject_kind: subjectKind, subject_id: subjectId }).orderBy('id', 'desc');
    },
  };
}
