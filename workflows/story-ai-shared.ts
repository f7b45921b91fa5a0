import type { BookBrief } from '../core/brief';
import type { ReviewOutline } from '../core/outline-review';
/**
 * Names and payload types of the story workflow and the AI routes' workflows,
 * shared by the workflows, the activities, the API and the tests (the book's
 * own names are in ./shared). Workflow code imports this module: no I/O here.
 */

export const STORY_WORKFLOW_TYPE = 'storyWorkflow';
export const ENHANCE_PROMPT_WORKFLOW_TYPE = 'enhancePromptWorkflow';
export const DRAW_PICTURE_WORKFLOW_TYPE = 'drawPictureWorkflow';

/**
 * One run per story revision: the first generation is revision 1 and each
 * rewrite the next, so a double request finds the id taken instead of starting twice.
 */
export function storyWorkflowId(storyId: string, revision: number): string {
  return `story-${storyId}-r${revision}`;
}

export const enhancePromptWorkflowId = (requestId: string) => `ai-prompt-${requestId}`;
export const drawPictureWorkflowId = (imageId: string) => `ai-image-${imageId}`;

/** How a story is being made, kept in the story's `metadata.generation`. */
export interface StoryGeneration {
  revision: number;
  workflowId: string;
  stage: 'queued' | 'outline' | 'outline_review' | 'writing' | 'completed' | 'failed';
  /** The storyline its owner is asked to review, while the run waits for them (`outline_review`). */
  review?: ReviewOutline | null;
  progress: number;
  sections?: { done: number; total: number };
  providers?: { text?: string };
  error?: { type: string; message: string } | null;
  /** The reader's wish for this rewrite. */
  feedback?: string;
  /** What the story's status was before this rewrite, restored when it ends. */
  previousStatus?: string;
}

export interface StoryWorkflowInput {
  storyId: string;
  /** The owner's profile id (database), for the cost ledger. */
  profileId: string;
  revision: number;
  /** The brief; `chapterCount` is the number of sections the story is written in. */
  brief: BookBrief;
  feedback?: string;
  /** 'outline': wait after the storyline until the owner answers the `reviewOutline` update. */
  review?: 'outline';
  /** REVIEW_TIMEOUT as the API read it: how long the review waits before the run fails. */
  reviewTimeoutMs?: number;
}

export interface StoryOutlineRef {
  outlineKey: string;
  title: string;
  sections: number;
  provider: string;
}

export interface StorySectionRef {
  index: number;
  key: string;
  words: number;
  provider: string;
}

export interface EnhancePromptInput {
  profileId: string;
  brief: Omit<BookBrief, 'chapterCount'>;
}

export interface EnhancedPrompt {
  prompt: string;
  title: string;
  provider: string;
}

export type PictureKind = 'image' | 'cover';

export interface DrawPictureInput {
  profileId: string;
  imageId: string;
  kind: PictureKind;
  prompt: string;
  style?: string;
  era?: string;
  /** Covers: set on the picture. */
  title?: string;
  subtitle?: string;
}

export interface DrawnPicture {
  key: string;
  contentType: string;
  width: number;
  height: number;
  bytes: number;
  provider: string;
  model: string;
}

/** Where a user's single pictures are stored: under the owner's profile, so nobody else's id resolves. */
export function pictureKey(profileId: string, imageId: string, ext: 'png' | 'jpg'): string {
  return `users/${profileId}/images/${imageId}.${ext}`;
}
