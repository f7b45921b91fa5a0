import type { ChapterStatus, StatusDoc } from './api';

export const statusLabel = (s: StatusDoc['status']): string =>
  ({ queued: 'Waiting to start', running: 'Being made', awaiting_review: 'Waiting for you', completed: 'Ready to read', failed: 'Failed', cancelled: 'Cancelled' })[s] ?? s;

export const stageLabel = (s: string): string =>
  ({
    queued: 'Waiting for a worker',
    outline: 'Planning the story',
    outline_review: 'Waiting for you to review the outline',
    chapters: 'Writing and illustrating chapters',
    cover: 'Painting the cover',
    pdf: 'Typesetting the PDF',
    epub: 'Building the EPUB',
    storing: 'Saving the files',
    publishing: 'Publishing',
    completed: 'Finished',
    failed: 'Stopped by an error',
    cancelled: 'Cancelled',
  } as Record<string, string>)[s] ?? s;

export const chapterLabel = (s: ChapterStatus | undefined): string =>
  ({ pending: 'Waiting', writing: 'Writing…', written: 'Written, awaiting illustration', illustrating: 'Illustrating…', done: 'Done', failed: 'Failed' } as Record<string, string>)[s ?? 'pending'] ?? String(s);
