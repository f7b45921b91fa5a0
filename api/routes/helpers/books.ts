/**
 * How every route finds and shows a book: the caller's own book (or a 404), the
 * status document (read from the row, so status polls never load Temporal), a
 * public book's address, and the `:id/chapters/:n` parameters.
 */
import type { Request } from 'express';
import { z } from 'zod';
import type { Ebook, Repositories } from '../../../db/repositories';
import { computeProgress, type EbookStatus, type Stage } from '../../../workflows/shared';
import { revisionProgress } from '../../../workflows/revision-shared';
import { notFound } from '../../problem';
import { CHAPTER_STATUSES, type Status } from '../../schemas/ebooks';

type ChapterStatus = Status['chapters'][number]['status'];
/** The row keeps a chapter's status as text; the answer names only the states there are. */
export const chapterStatus = (s: string): ChapterStatus => CHAPTER_STATUSES.find((c) => c === s) ?? 'pending';

const idSchema = z.string().uuid('must be a UUID');

export const chapterParamsSchema = z.object({
  id: z.string(),
  n: z.coerce.number().int('must be a whole number').min(1, 'must be 1 or more'),
});

/** The caller's book, or 404: another user's book does not exist for them. */
export async function findOwnBook(repos: Pick<Repositories, 'ebooks'>, req: Request): Promise<Ebook> {
  const id = idSchema.safeParse(req.params.id);
  if (!id.success) throw notFound('Ebook');
  const book = await repos.ebooks.getForClerkUser(id.data, req.user!.userId);
  if (!book) throw notFound('Ebook');
  return book;
}

/** The status document: read from the database row, so status polls never load Temporal. */
export function statusOf(book: Ebook): Status {
  const stage = (book.stage ?? 'queued') as Stage;
  const status: EbookStatus = book.status === 'draft' ? 'queued' : book.status;
  const progress =
    status === 'failed' || status === 'cancelled' ? (book.progress ?? 0) : computeProgress(stage, book.chapters);
  const providers = (book.providers ?? {}) as { text?: string; image?: string };
  const used = [
    ...new Set(book.chapters.flatMap((c) => [c.textProvider, c.imageProvider]).filter(Boolean)),
  ] as string[];
  return {
    id: book.id,
    workflowId: book.workflowId,
    status,
    stage,
    progress,
    title: book.title,
    chapters: book.chapters.map((c) => ({
      index: c.index,
      title: c.title,
      status: chapterStatus(c.status),
      words: c.words,
      textProvider: c.textProvider,
      imageProvider: c.imageProvider,
    })),
    providers: { ...providers, used },
    offline: used.includes('offline'),
    error: book.error ?? null,
    visibility: book.visibility,
    shareUrl: shareUrlOf(book),
    fileVersion: book.fileVersion,
    fileVersionAt: book.fileVersionAt,
    revision: book.revision
      ? { ...book.revision, kind: book.revision.chapter ? 'chapter' : 'step', progress: revisionProgress(book.revision, book.chapters) }
      : null,
    // Only a book waiting for its owner carries the outline under review (title, logline, cast, chapters).
    // Stored by the review activities as core/outline-review.ts's ReviewOutline.
    ...(status === 'awaiting_review' && book.outlineReview ? { outline: book.outlineReview as unknown as Status['outline'] } : {}),
    waitingFor: waitingForOf(book, status),
    // Written by the steps that found the text in another language than asked (activities/text-language.ts).
    ...textLanguageOf(book.metadata),
    updatedAt: book.updatedAt,
  };
}

/** What a book in progress (or its running revision) waits for (file storage unreachable); null otherwise. */
function waitingForOf(book: Ebook, status: EbookStatus): Status['waitingFor'] {
  const w = book.waitingFor;
  const inProgress = status === 'queued' || status === 'running' || book.revision?.status === 'running';
  if (!w || !inProgress) return null;
  return { dependency: 'storage', message: w.message, ...(w.step ? { step: w.step } : {}), since: new Date(w.since).toISOString() };
}

/** The text's language and the notices, when the book's steps recorded them. */
function textLanguageOf(metadata: Record<string, unknown> | null | undefined): Pick<Status, 'textLanguage' | 'notices'> {
  const out: Pick<Status, 'textLanguage' | 'notices'> = {};
  if (typeof metadata?.textLanguage === 'string') out.textLanguage = metadata.textLanguage;
  if (Array.isArray(metadata?.notices)) out.notices = metadata.notices.filter((n): n is string => typeof n === 'string');
  return out;
}

/** Where anyone reads a public book; null while it is private. */
export function shareUrlOf(book: Pick<Ebook, 'id' | 'visibility'>): string | null {
  return book.visibility === 'public' ? `/shared/ebooks/${book.id}` : null;
}
