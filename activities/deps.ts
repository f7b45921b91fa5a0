/**
 * What every activity factory is built over: the repositories, storage, event buses
 * and providers the worker wires once (tests wire their own), and the chapter as it
 * is stored. Factories import this file, never the index that composes them.
 */
import type { Repositories } from '../db/repositories';
import type { EventBus } from '../db/events';
import type { Moderator } from './moderation';
import type { ImageProvider, TextProvider, UpscaleRequest, ImageResult } from './providers/types';
import type { Storage } from './storage/types';
import type { InteriorBleed } from '../core/print';

export interface ActivityDeps {
  /** The only way to the database: the cost ledger, stories and batch queries included. */
  repos: Repositories;
  storage: Storage;
  events: EventBus;
  /** Stories' progress events; without it, a story's run is only seen in its row. */
  storyEvents?: EventBus;
  text: TextProvider;
  image: ImageProvider;
  /** The image provider's upscaler (Runware's); without one pictures are upscaled locally with sharp. */
  upscaler?: { readonly name: string; upscaleImage(req: UpscaleRequest, signal?: AbortSignal): Promise<ImageResult> };
  /** Content moderation; default: OpenAI's with OPENAI_API_KEY in the environment, else the local rules. */
  moderate?: Moderator;
  /** How long a worker keeps the persisted provider order before reading it again (default 10 s). */
  providerOrderTtlMs?: number;
  /**
   * How long after its first heartbeat call an activity stays quiet (default 1 s). Temporal
   * sends an activity's first heartbeat at once and throttles the rest to most of the
   * heartbeat timeout, so a beat at the start only cost two processes work; skipping them made
   * the throughput benchmark's books ~10% cheaper. Long steps still beat after this.
   */
  heartbeatQuietMs?: number;
  /** The print package (lib/config.ts `print`): the cover's spine is pages × paper thickness (default white); the interior's bleed sides (default all). */
  print?: { paperThicknessIn: number; interiorBleed?: InteriorBleed };
}

/** A chapter as stored: the text itself never enters workflow history. */
export interface StoredChapter {
  index: number;
  title: string;
  paragraphs: string[];
}
