/**
 * One change of a completed book at a time: a whole-book revision and a
 * single-chapter rewrite both publish "the next version", so neither may start
 * while the other runs. Asked of Temporal directly (describe, not the eventually
 * consistent visibility list), so a just-started workflow is seen.
 */
import type { Client } from '@temporalio/client';
import { isWorkflowRunning } from '../wiring/temporal';
import type { Ebook } from '../db/repositories';
import { chapterRewriteWorkflowId } from '../workflows/shared';
import { HttpProblem } from './problem';

/** Throws 409 when a revision or a chapter rewrite of `book`'s current version is running. */
export async function refuseWhileRevising(temporal: Client, book: Ebook): Promise<void> {
  const candidates = [
    ...(book.revision?.status === 'running' ? [book.revision.workflowId] : []),
    ...book.chapters.map((c) => chapterRewriteWorkflowId(book.id, c.index, book.fileVersion)),
  ];
  const states = await Promise.all(candidates.map((id) => isWorkflowRunning(temporal, id)));
  const busy = candidates.find((_, i) => states[i]);
  if (busy) {
    throw new HttpProblem(409, 'Conflict', 'This book is already being changed; wait for the new version to be published.', {
      workflowId: busy,
    });
  }
}
