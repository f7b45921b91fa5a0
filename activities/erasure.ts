/**
 * Erasure's steps (workflows/erase.ts): find what a book or a user left behind,
 * delete the rows, delete every stored object under their prefixes until none is
 * left, and record the audit entry. Storage keys all start with the owner's
 * prefix (activities/storage/types.ts `keys`, the stories' and pictures' keys),
 * so listing a prefix finds every file version, picture, cover, print file, draft
 * and outline, including those no row names any more.
 */
import { heartbeat } from '@temporalio/activity';
import type { ErasureAudit } from '../db/erasure';
import type { ActivityDeps } from './deps';

export function createErasureActivities(deps: Pick<ActivityDeps, 'repos' | 'storage'>) {
  const { repos, storage } = deps;
  return {
    /** The user's profile and the ids of what they own; null when they have no profile. */
    async findUserData(input: { clerkUserId: string }) {
      return (await repos.erasure.userFootprint(input.clerkUserId)) ?? null;
    },

    /** Workflow ids of a user's (or one book's) runs still going. */
    async runningWork(input: { profileId?: string; ebookId?: string }): Promise<string[]> {
      if (input.ebookId) return (await repos.erasure.bookRunning(input.ebookId)).workflowIds;
      if (input.profileId) return (await repos.erasure.runningWork(input.profileId)).workflowIds;
      return [];
    },

    async deleteBookRows(input: { ebookId: string }): Promise<Record<string, number>> {
      return repos.erasure.deleteBook(input.ebookId);
    },

    async deleteUserRows(input: { profileId: string; clerkUserId: string }): Promise<Record<string, number>> {
      return repos.erasure.deleteUser(input.profileId, input.clerkUserId);
    },

    /**
     * Deletes every object under the prefixes, then lists them again: anything still
     * there (a write that raced the delete, a store that dropped part of a batch) fails
     * this attempt, and the workflow retries it until storage holds nothing.
     */
    async eraseStored(input: { prefixes: string[] }): Promise<{ objects: number }> {
      let objects = 0;
      for (const prefix of input.prefixes) {
        objects += await storage.deletePrefix(prefix);
        heartbeat();
      }
      const left: string[] = [];
      for (const prefix of input.prefixes) left.push(...(await storage.list(prefix)));
      if (left.length > 0) throw new Error(`storage still holds ${left.length} object(s) under the erased prefixes`);
      return { objects };
    },

    async recordErasure(entry: ErasureAudit): Promise<void> {
      await repos.erasure.record(entry);
    },
  };
}
