/**
 * The provider interface every text and image provider implements: the offline
 * providers (the default with no API keys) and the real SDK-backed ones drop in
 * behind the same shapes.
 */
import type { BookBrief } from '../../core/brief';
import type { Usage } from '../../core/pricing';

export interface OutlineCharacter {
  name: string;
  look: string;
  personality: string;
}

export interface OutlineChapter {
  /** 1-based chapter number. */
  index: number;
  title: string;
  summary: string;
  targetWords: number;
}

export interface Outline {
  title: string;
  logline: string;
  characters: OutlineCharacter[];
  setting: string;
  /** Illustration medium and look, carried into every image prompt. */
  style: string;
  /** Two CSS hex colours (e.g. '#ff8c42') used by illustrations and covers. */
  palette: [string, string];
  chapters: OutlineChapter[];
}

export interface ChapterRequest {
  brief: BookBrief;
  outline: Outline;
  chapter: OutlineChapter;
  /** Summaries of the chapters before this one, for continuity. */
  previousSummaries: string[];
  /** Sequential books: how the previous chapter, as actually written, ends. */
  previousEnding?: string;
  /** Set when a reader asks for this chapter again: which rewrite it is (2, 3, ...) and what to change. */
  revision?: { number: number; feedback?: string };
}

export interface ChapterResult {
  /** Paragraphs of plain text (no markup), in order. */
  paragraphs: string[];
  usage: Usage;
  model: string;
  /** Which provider produced this (set by the failover wrapper; absent: the provider's own `name`). */
  provider?: string;
}

export interface OutlineResult {
  outline: Outline;
  usage: Usage;
  model: string;
  /** Which provider produced this (set by the failover wrapper; absent: the provider's own `name`). */
  provider?: string;
}

export interface TextProvider {
  /** Stable name recorded with everything the provider produced, e.g. 'offline', 'groq'. */
  readonly name: string;
  /** True for the built-in offline providers; surfaced in status and output. */
  readonly offline: boolean;
  writeOutline(brief: BookBrief, signal?: AbortSignal): Promise<OutlineResult>;
  /**
   * Writes one chapter. `onText` receives the text as it is produced (a
   * streaming provider calls it per token batch; a non-streaming one once per paragraph).
   */
  writeChapter(
    req: ChapterRequest,
    onText?: (delta: string) => void,
    signal?: AbortSignal,
  ): Promise<ChapterResult>;
}

export type ImageKind = 'illustration' | 'cover';

export interface ImageRequest {
  kind: ImageKind;
  /** Full prompt: scene plus the character/style bible. */
  prompt: string;
  width: number;
  height: number;
  /** One seed per book keeps a provider's pictures consistent. */
  seed: number;
  palette: [string, string];
  /** For covers: the book title (and author line) to set on the image. */
  title?: string;
  subtitle?: string;
  /** For illustrations: the chapter's title and number. */
  caption?: string;
  /**
   * For illustrations: the chapter's own words (title and summary) and number. The offline
   * painter draws its scene from them, varied by the number so no two chapters look alike;
   * the other providers read the prompt.
   */
  scene?: string;
  index?: number;
  /** BCP 47 language of the lettering (title, subtitle): where a long word may be hyphenated. */
  language?: string;
}

export interface ImageResult {
  data: Buffer;
  mime: 'image/png' | 'image/jpeg';
  width: number;
  height: number;
  usage: Usage;
  model: string;
  /** Which provider produced this (set by the failover wrapper; absent: the provider's own `name`). */
  provider?: string;
}

/** A stored picture made bigger (`POST /v1/ai/enhance/image`). */
export interface UpscaleRequest {
  data: Buffer;
  scale: 2 | 4;
  /** Smooth out noise and compression artefacts first. */
  denoise?: boolean;
}

export interface ImageProvider {
  readonly name: string;
  readonly offline: boolean;
  generateImage(req: ImageRequest, signal?: AbortSignal): Promise<ImageResult>;
  /** The provider's own upscaler, when it has one (Runware's `upscale` task). */
  upscaleImage?(req: UpscaleRequest, signal?: AbortSignal): Promise<ImageResult>;
}
