/**
 * The AI services outside a book (issue 22): a text or a story split into titled
 * chapters (optionally rewritten), and a stored picture upscaled. Calls go
 * through the same providers, moderation and cost ledger as books, booked to the
 * user who asked; what they produce is stored under that user.
 */
import { ApplicationFailure } from '@temporalio/activity';
import sharp from 'sharp';
import type { ActivityDeps } from './deps';
import type { ProviderCalls } from './provider-calls';
import type { ImageResult, Outline, UpscaleRequest } from './providers/types';
import { ProviderErrorTypes } from './providers/errors';
import { denoise } from './providers/runware-image';
import { splitStory, type StoryPart } from './story-books';
import { ErrorTypes } from '../workflows/shared';
import { pictureKey, type DrawnPicture } from '../workflows/story-ai-shared';
import {
  chaptersInputKey,
  chaptersJobKey,
  chaptersPartKey,
  type ChaptersJob,
  type EnhanceImageInput,
  type ServiceChapter,
  type SplitChaptersInput,
} from '../workflows/ai-services-shared';
import type { BookBrief } from '../core/brief';

/** Larger outputs than this (about 8k x 8k) are refused: nobody prints them, and memory is finite. */
const MAX_OUTPUT_PIXELS = 64_000_000;
const PROMPT_MAX = 2000;

const wordsOf = (text: string) => text.split(/\s+/).filter(Boolean).length;

/** Enlarges a picture here, with sharp (Lanczos), when no provider upscaler is configured. */
export async function upscaleLocally(req: UpscaleRequest): Promise<ImageResult> {
  const source = req.denoise ? await denoise(req.data) : req.data;
  const meta = await sharp(source).metadata();
  if (!meta.width || !meta.height) throw new Error('the picture has no dimensions');
  const isJpeg = meta.format === 'jpeg';
  const resized = sharp(source).resize({ width: meta.width * req.scale, height: meta.height * req.scale, kernel: 'lanczos3' });
  const data = await (isJpeg ? resized.jpeg({ quality: 92 }) : resized.png()).toBuffer();
  return {
    data,
    mime: isJpeg ? 'image/jpeg' : 'image/png',
    width: meta.width * req.scale,
    height: meta.height * req.scale,
    usage: {},
    model: 'sharp-lanczos3',
    provider: 'local',
  };
}

/** The brief a service call's titles and rewrites follow. */
function briefOf(input: SplitChaptersInput, prompt: string): BookBrief {
  return { ...input.brief, prompt: prompt.slice(0, PROMPT_MAX), chapterCount: input.chapterCount };
}

/** The prompt for titles: each chapter's opening words, as many as fit. */
function titlesPrompt(parts: StoryPart[]): string {
  const head = `Give a title to each of these ${parts.length} chapters of one story, in order. Their openings:\n`;
  const each = Math.floor((PROMPT_MAX - head.length) / parts.length) - 8;
  return head + parts.map((p, i) => `${i + 1}. ${p.paragraphs.join(' ').slice(0, Math.max(each, 20))}`).join('\n');
}

export function createAiServiceActivities(deps: ActivityDeps, calls: ProviderCalls) {
  const { storage } = deps;
  const { heartbeat, tracked, recordOwnedCall, refuseIfFlagged, writeModerated } = calls;
  const readJson = async <T>(key: string): Promise<T> => JSON.parse((await storage.get(key)).toString('utf8')) as T;
  const writeJson = (key: string, value: unknown) =>
    storage.put(key, Buffer.from(JSON.stringify(value)), { contentType: 'application/json' });

  return {
    /** Splits the text at paragraph boundaries and titles the chapters; each part is stored. */
    async splitServiceChapters(input: SplitChaptersInput): Promise<{ titles: string[]; provider: string }> {
      heartbeat();
      let text: string;
      let storyline: Parameters<typeof splitStory>[2];
      if (input.source.kind === 'story') {
        const story = await deps.repos.stories.get(input.source.storyId);
        if (!story || story.userId !== input.profileId) {
          throw ApplicationFailure.nonRetryable(`story ${input.source.storyId} does not exist`, ErrorTypes.NotFound);
        }
        text = story.content;
        storyline = (story.metadata.outline ?? undefined) as typeof storyline;
      } else {
        text = (await storage.get(chaptersInputKey(input.profileId, input.jobId))).toString('utf8');
      }
      let parts: StoryPart[];
      try {
        parts = splitStory(text, input.chapterCount, storyline);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, ErrorTypes.BadInput);
      }
      let provider = 'storyline';
      // A storyline with as many sections already titled them; otherwise the text providers do.
      if ((storyline?.chapters?.length ?? 0) !== input.chapterCount) {
        const brief = briefOf(input, titlesPrompt(parts));
        const written = await tracked(undefined, 'ai.chapters.titles', deps.text.name, () => deps.text.writeOutline(brief, calls.signal()));
        provider = written.provider ?? deps.text.name;
        await recordOwnedCall({ profileId: input.profileId }, 'ai.chapters.titles', provider, written.model, written.usage);
        const titles = written.outline.chapters.map((c) => c.title.trim()).filter(Boolean);
        // A model that answered with another number of chapters keeps the first words as titles.
        if (titles.length === parts.length) parts = parts.map((p, i) => ({ ...p, title: titles[i] }));
        await refuseIfFlagged(parts.map((p) => p.title).join('\n'), 'the chapter titles');
      }
      for (const [i, p] of parts.entries()) {
        await writeJson(chaptersPartKey(input.profileId, input.jobId, i + 1), { index: i + 1, title: p.title, paragraphs: p.paragraphs });
      }
      return { titles: parts.map((p) => p.title), provider };
    },

    /** Rewrites one stored chapter through the text providers (moderated), in its place. */
    async rewriteServiceChapter(input: SplitChaptersInput, index: number, titles: string[]): Promise<{ words: number; provider: string }> {
      const key = chaptersPartKey(input.profileId, input.jobId, index);
      const part = await readJson<{ index: number; title: string; paragraphs: string[] }>(key);
      const original = part.paragraphs.join('\n\n');
      const summaryOf = (t: string) => t.split(/\s+/).slice(0, 150).join(' ');
      const outline: Outline = {
        title: input.brief?.prompt?.slice(0, 120) ?? titles[0],
        logline: summaryOf(original).slice(0, 300),
        characters: input.brief?.characterName ? [{ name: input.brief.characterName, look: input.brief.archetype ?? '', personality: '' }] : [],
        setting: input.brief?.place ?? '',
        style: input.brief?.style ?? '',
        palette: ['#2f4858', '#f6ae2d'],
        chapters: titles.map((title, i) => ({ index: i + 1, title, summary: i + 1 === index ? summaryOf(original) : title, targetWords: wordsOf(original) })),
      };
      const owner = { profileId: input.profileId };
      const step = 'ai.chapters.rewrite';
      const result = await writeModerated({
        step,
        provider: deps.text.name,
        what: `chapter ${index}`,
        heartbeatDetails: { index },
        publish: async () => undefined,
        record: (provider, model, usage) => recordOwnedCall(owner, step, provider, model, usage, index),
        call: (onText, signal) =>
          deps.text.writeChapter(
            {
              brief: briefOf(input, `Rewrite this chapter, keeping its events and its people:\n${original}`),
              outline,
              chapter: outline.chapters[index - 1],
              previousSummaries: titles.slice(0, index - 1),
              revision: { number: 2, feedback: 'Rewrite the chapter as given in its summary: same events, better prose.' },
            },
            onText,
            signal,
          ),
      });
      await writeJson(key, { ...part, paragraphs: result.paragraphs });
      return { words: wordsOf(result.paragraphs.join(' ')), provider: result.provider ?? deps.text.name };
    },

    /** Writes the job's end: the chapters, or what went wrong. */
    async finishServiceChapters(input: SplitChaptersInput, outcome: { provider: string } | { error: { type: string; message: string } }): Promise<void> {
      const key = chaptersJobKey(input.profileId, input.jobId);
      const job = await readJson<ChaptersJob>(key);
      const done = { ...job, completedAt: new Date().toISOString() };
      if ('error' in outcome) {
        await writeJson(key, { ...done, status: 'failed', error: outcome.error });
        return;
      }
      const chapters: ServiceChapter[] = [];
      for (let i = 1; i <= input.chapterCount; i++) {
        const part = await readJson<{ title: string; paragraphs: string[] }>(chaptersPartKey(input.profileId, input.jobId, i));
        chapters.push({ index: i, title: part.title, paragraphs: part.paragraphs, words: wordsOf(part.paragraphs.join(' ')) });
      }
      await writeJson(key, { ...done, status: 'completed', chapters, provider: outcome.provider });
    },

    /**
     * Upscales a stored picture through the image provider's upscaler, or here with
     * sharp when none is configured (or the provider cannot serve at all), and
     * stores it as a new picture of the owner's.
     */
    async upscalePicture(input: EnhanceImageInput): Promise<DrawnPicture> {
      heartbeat();
      const data = await storage.get(input.sourceKey);
      const meta = await sharp(data).metadata().catch(() => undefined);
      if (!meta?.width || !meta.height) throw ApplicationFailure.nonRetryable('the stored picture cannot be read', ErrorTypes.BadInput);
      if (meta.width * meta.height * input.scale * input.scale > MAX_OUTPUT_PIXELS) {
        throw ApplicationFailure.nonRetryable(
          `a ${meta.width}x${meta.height} picture at x${input.scale} would be over ${MAX_OUTPUT_PIXELS / 1e6} megapixels`,
          ErrorTypes.BadInput,
        );
      }
      const req: UpscaleRequest = { data, scale: input.scale, denoise: input.denoise };
      const upscaler = deps.upscaler;
      let result: ImageResult;
      if (upscaler) {
        try {
          result = await tracked(undefined, 'ai.upscale', upscaler.name, () => upscaler.upscaleImage(req, calls.signal()));
          result = { ...result, provider: result.provider ?? upscaler.name };
        } catch (err) {
          if (!(err instanceof ApplicationFailure && err.type === ProviderErrorTypes.ProviderUnavailable)) throw err;
          result = await upscaleLocally(req);
        }
      } else {
        result = await upscaleLocally(req);
      }
      await recordOwnedCall({ profileId: input.profileId }, 'ai.upscale', result.provider!, result.model, result.usage);
      const key = pictureKey(input.profileId, input.imageId, result.mime === 'image/png' ? 'png' : 'jpg');
      const stored = await storage.put(key, result.data, { contentType: result.mime });
      return { key, contentType: result.mime, width: result.width, height: result.height, bytes: stored.bytes, provider: result.provider!, model: result.model };
    },
  };
}
