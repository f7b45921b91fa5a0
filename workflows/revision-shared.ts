/**
 * Names and payloads of the whole-book revisions (re-running one step of a
 * completed book). Workflow code imports this module: no Node built-ins, no I/O.
 */
import type { Stage } from './shared';

export const REVISION_WORKFLOW_TYPE = 'reviseEbookWorkflow';

/** The steps of a completed book that can be run again. */
export const REVISION_STEPS = ['chapters', 'illustrations', 'pdf', 'epub'] as const;
export type RevisionStep = (typeof REVISION_STEPS)[number];

/**
 * A revision goes through a first run's stages, less the outline and the cover
 * (it keeps the outline; a redrawn cover belongs to redrawing), plus redrawing.
 */
export type RevisionStage = Exclude<Stage, 'outline' | 'outline_review' | 'cover'> | 'illustrations';

/**
 * One revision of a book per published version: a second request (of any step)
 * while one runs finds the id taken; after it publishes, the next version's id is free.
 */
export function revisionWorkflowId(ebookId: string, fromVersion: number): string {
  return `ebook-${ebookId}-revision-from-v${fromVersion}`;
}

export interface RevisionInput {
  ebookId: string;
  step: RevisionStep;
  /** The file version the revision starts from; it publishes fromVersion + 1. */
  fromVersion: number;
  chapterCount: number;
  /** For `chapters`: what the reader wants changed, applied to every chapter. */
  feedback?: string;
  watermark?: string;
  /** The owner's plan includes a print-ready PDF: every new version gets one too. */
  printReady?: boolean;
  /** Chapters rewritten or redrawn at once. */
  concurrency?: number;
}

/** What the book row keeps about its latest revision (`memory_books.revision`). */
export interface RevisionState {
  workflowId: string;
  runId: string;
  step: RevisionStep;
  /** Set for a single chapter's rewrite (step `chapters`, that chapter only). */
  chapter?: number;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  stage: RevisionStage;
  fromVersion: number;
  toVersion?: number;
  startedAt?: string;
  finishedAt?: string;
  error?: { type: string; message: string };
}

/** Progress 0..1 of a revision from its stage and (while chapters are redone) the chapters' states. */
export function revisionProgress(
  revision: Pick<RevisionState, 'stage' | 'step' | 'chapter'>,
  chapters: ReadonlyArray<{ status: string }>,
): number {
  // One chapter rewritten: its text, then its picture, then the files.
  if (revision.chapter !== undefined && (revision.stage === 'chapters' || revision.stage === 'illustrations')) {
    return revision.stage === 'chapters' ? 0.05 : 0.45;
  }
  const base: Record<RevisionStage, number> = {
    queued: 0,
    chapters: 0.05,
    illustrations: 0.05,
    pdf: 0.8,
    epub: 0.88,
    storing: 0.95,
    publishing: 0.98,
    completed: 1,
    failed: 0,
    cancelled: 0,
  };
  if (revision.stage === 'chapters' || revision.stage === 'illustrations') {
    const finished = revision.stage === 'chapters' ? ['written', 'done'] : ['done'];
    const done = chapters.filter((c) => finished.includes(c.status)).length;
    return Math.round((0.05 + 0.75 * (done / (chapters.length || 1))) * 1000) / 1000;
  }
  if (revision.stage === 'pdf' && revision.step === 'epub') return base.epub;
  return base[revision.stage] ?? 0;
}
