/**
 * The AI routes' activities: an improved prompt and a single picture, through
 * the same providers, failover, moderation and cost ledger as books, with the
 * cost booked to the user who asked (there is no book).
 */
import { briefText } from '../core/brief';
import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import type { ProviderCalls } from './provider-calls';
import type { Outline } from './providers/types';
import { getEra } from '../core/eras';
import {
  pictureKey,
  type DrawnPicture,
  type DrawPictureInput,
  type EnhancedPrompt,
  type EnhancePromptInput,
} from '../workflows/story-ai-shared';

/** Sections of the storyline an improved prompt is drawn from: short, so cheap. */
const ENHANCE_SECTIONS = 3;
const SIZES = { image: { width: 1024, height: 1024 }, cover: { width: 1200, height: 1800 } } as const;

/**
 * The improved prompt, said in one paragraph: the premise (logline), who it is
 * about, where it happens and how its sections turn.
 */
export function promptFromOutline(outline: Outline, mood?: string): string {
  const hero = outline.characters[0];
  return [
    outline.logline.trim(),
    hero ? `${hero.name}${hero.personality ? `, ${hero.personality.replace(/\.$/, '')}` : ''}, is at its heart.` : '',
    outline.setting ? `Setting: ${outline.setting.replace(/\.$/, '')}.` : '',
    outline.chapters.length ? `It moves from ${outline.chapters.map((c) => c.title.replace(/\.$/, '')).join(' to ')}.` : '',
    mood ? `Mood: ${mood}.` : '',
  ]
    .filter(Boolean)
    .join(' ')
    .slice(0, 2000);
}

export function createAiActivities(deps: ActivityDeps, calls: ProviderCalls) {
  const { heartbeat, signal, tracked, recordOwnedCall, refuseIfFlagged } = calls;

  return {
    /** Writes a short storyline for the prompt and says it back as a richer prompt. */
    async enhancePrompt(input: EnhancePromptInput): Promise<EnhancedPrompt> {
      const b = input.brief;
      heartbeat();
      await refuseIfFlagged(briefText(b), 'the prompt');
      const provider = deps.text;
      const written = await tracked(undefined, 'ai.prompt', provider.name, () =>
        provider.writeOutline({ ...b, chapterCount: ENHANCE_SECTIONS }, signal()),
      );
      const producer = written.provider ?? provider.name;
      await recordOwnedCall({ profileId: input.profileId }, 'ai.prompt', producer, written.model, written.usage);
      const prompt = promptFromOutline(written.outline, b.mood);
      await refuseIfFlagged(prompt, 'the improved prompt');
      return { prompt, title: written.outline.title, provider: producer };
    },

    /** Draws one picture (an illustration or a cover) and stores it under the user. */
    async drawPicture(input: DrawPictureInput): Promise<DrawnPicture> {
      const size = SIZES[input.kind];
      const era = getEra(input.era);
      const prompt = [input.prompt, input.style ? `Style: ${input.style}.` : '', era ? `In the spirit of ${era.name}.` : '']
        .filter(Boolean)
        .join(' ');
      heartbeat();
      await refuseIfFlagged([prompt, input.title, input.subtitle].filter(Boolean).join('\n'), 'the picture prompt');
      const provider = deps.image;
      const step = input.kind === 'cover' ? 'ai.cover' : 'ai.image';
      const result = await tracked(undefined, step, provider.name, () =>
        provider.generateImage(
          {
            kind: input.kind === 'cover' ? 'cover' : 'illustration',
            prompt,
            width: size.width,
            height: size.height,
            seed: parseInt(input.imageId.replace(/-/g, '').slice(0, 8), 16) >>> 0,
            palette: era ? [era.colors[0], era.colors[1]] : ['#2f4858', '#f6ae2d'],
            title: input.kind === 'cover' ? (input.title ?? input.prompt.slice(0, 80)) : undefined,
            subtitle: input.subtitle,
          },
          signal(),
        ),
      );
      const producer = result.provider ?? provider.name;
      await recordOwnedCall({ profileId: input.profileId }, step, producer, result.model, result.usage);
      if (!result.data.length) throw ApplicationFailure.retryable(`${producer} returned an empty picture`);
      const key = pictureKey(input.profileId, input.imageId, result.mime === 'image/png' ? 'png' : 'jpg');
      const stored = await deps.storage.put(key, result.data, { contentType: result.mime });
      return {
        key,
        contentType: result.mime,
        width: result.width,
        height: result.height,
        bytes: stored.bytes,
        provider: producer,
        model: result.model,
      };
    },
  };
}

