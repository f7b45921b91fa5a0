/**
 * Names and payload types of the AI services outside a book (issue 22): chapters
 * made from a text or a story, and a stored picture upscaled. Shared by the
 * workflows, the activities, the API and the tests; workflow code imports this
 * module, so no I/O here.
 */
import type { BookBrief } from '../core/brief';

export const SPLIT_CHAPTERS_WORKFLOW_TYPE = 'splitChaptersWorkflow';
export const ENHANCE_IMAGE_WORKFLOW_TYPE = 'enhanceImageWorkflow';

export const splitChaptersWorkflowId = (jobId: string) => `ai-chapters-${jobId}`;
export const enhanceImageWorkflowId = (imageId: string) => `ai-upscale-${imageId}`;

export interface SplitChaptersInput {
  jobId: string;
  /** The owner's profile id: where the job is stored and whose ledger the calls go to. */
  profileId: string;
  /** The text, stored by the API at `chaptersInputKey` (texts can be long), or a story of the owner's. */
  source: { kind: 'text' } | { kind: 'story'; storyId: string };
  chapterCount: number;
  /** Rewrite each chapter through the text providers, not only split and title it. */
  rewrite?: boolean;
  /** What the titles and a rewrite follow (style, mood, language...). */
  brief?: Partial<Omit<BookBrief, 'chapterCount'>>;
}

export interface ServiceChapter {
  index: number;
  title: string;
  paragraphs: string[];
  words: number;
}

/** The job's document, as `GET /v1/ai/chapters/{id}` shows it. */
export interface ChaptersJob {
  id: string;
  status: 'running' | 'completed' | 'failed';
  chapterCount: number;
  rewrite: boolean;
  createdAt: string;
  completedAt?: string;
  chapters?: ServiceChapter[];
  provider?: string;
  error?: { type: string; message: string };
}

export const chaptersJobKey = (profileId: string, jobId: string) => `users/${profileId}/chapters/${jobId}.json`;
export const chaptersInputKey = (profileId: string, jobId: string) => `users/${profileId}/chapters/${jobId}.input.txt`;
export const chaptersPartKey = (profileId: string, jobId: string, index: number) => `users/${profileId}/chapters/${jobId}/${index}.json`;

export interface EnhanceImageInput {
  profileId: string;
  /** The new picture's id: it is stored as one of the owner's pictures (`GET /v1/ai/images/{id}`). */
  imageId: string;
  /** The stored picture to enlarge. */
  sourceKey: string;
  scale: 2 | 4;
  denoise?: boolean;
}
