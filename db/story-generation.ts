/**
 * The story rows the story workflow writes: a new story being generated, the
 * atomic start of a rewrite, progress, and the end of a run. Every write of a
 * run names its revision, so a stale run can never overwrite a newer one.
 */
import type { Knex } from 'knex';
import type { EventBus } from './events';
import type { JsonObject } from './rows';
import type { StoryGeneration } from '../workflows/story-ai-shared';

const REVISION = `(metadata->'generation'->>'revision')::int`;

/**
 * Tells a story's readers (its event stream) that run `revision` ended without a
 * new text: `cancelled` for a run cancelled by request, else `failed`.
 */
export async function announceRunEnd(
  events: EventBus | undefined,
  storyId: string,
  revision: number,
  error: { type: string; message: string },
): Promise<void> {
  await events?.publish(storyId, error.type === 'Cancelled' ? 'cancelled' : 'failed', { revision, error });
}

export function createStoryGenerationRepository(knex: Knex) {
  async function fail(id: string, revision: number, status: string, generation: Partial<StoryGeneration>): Promise<boolean> {
    const n = await knex('stories')
      .where({ id })
      .andWhereRaw(`${REVISION} = ?`, [revision])
      .update({
        status,
        metadata: knex.raw(`jsonb_set(metadata, '{generation}', (metadata->'generation') || ?::jsonb)`, [JSON.stringify(generation)]),
        updated_at: knex.fn.now(),
      });
    return n > 0;
  }

  return {
    /** The last event of the story's runs before `revision`: where a new stream of that run starts. */
    async lastEventBefore(storyId: string, revision: number): Promise<number> {
      const [row] = await knex('story_events')
        .where('story_id', storyId)
        .andWhereRaw(`(data->>'revision')::int < ?`, [revision])
        .max({ last: 'id' });
      return Number(row?.last ?? 0);
    },

    /** A new story in `generating`, owned by `userId` (profile id), with its brief. */
    async create(input: { id: string; userId: string; promptData: JsonObject; generation: StoryGeneration }): Promise<void> {
      await knex('stories').insert({
        id: input.id,
        user_id: input.userId,
        title: 'Untitled story',
        content: '',
        prompt_data: JSON.stringify(input.promptData),
        generation_settings: JSON.stringify(input.promptData),
        metadata: JSON.stringify({ generation: input.generation }),
        status: 'generating',
      });
    },

    /**
     * Marks the story as being rewritten as the next revision, unless a run is
     * in progress. One statement, so two concurrent requests cannot both begin.
     * Returns the new generation, or undefined when the story is generating already.
     */
    async beginRewrite(
      id: string,
      make: (revision: number) => StoryGeneration,
      current: { revision: number; status: string },
    ): Promise<StoryGeneration | undefined> {
      const next = { ...make(current.revision + 1), previousStatus: current.status };
      const rows = await knex('stories')
        .where({ id })
        .whereNot({ status: 'generating' })
        .andWhereRaw(`coalesce(${REVISION}, 0) = ?`, [current.revision])
        .update({
          status: 'generating',
          metadata: knex.raw(`jsonb_set(metadata, '{generation}', ?::jsonb)`, [JSON.stringify(next)]),
          updated_at: knex.fn.now(),
        })
        .returning('id');
      return rows.length ? next : undefined;
    },

    /** Merges into the run's `metadata.generation` while that run is the current one. */
    async progress(id: string, revision: number, patch: Partial<StoryGeneration>): Promise<boolean> {
      const n = await knex('stories')
        .where({ id })
        .andWhereRaw(`${REVISION} = ?`, [revision])
        .update({
          metadata: knex.raw(`jsonb_set(metadata, '{generation}', (metadata->'generation') || ?::jsonb)`, [JSON.stringify(patch)]),
          updated_at: knex.fn.now(),
        });
      return n > 0;
    },

    /**
     * A section is stored: sections finish concurrently, so the count and the
     * progress only ever grow (a slower writer's smaller count does not win).
     */
    async sectionDone(id: string, revision: number, done: number, total: number, progress: number): Promise<void> {
      await knex('stories')
        .where({ id })
        .andWhereRaw(`${REVISION} = ?`, [revision])
        .update({
          metadata: knex.raw(
            `jsonb_set(metadata, '{generation}', (metadata->'generation') || jsonb_build_object(
               'sections', jsonb_build_object('done', greatest(coalesce((metadata->'generation'->'sections'->>'done')::int, 0), ?::int), 'total', ?::int),
               'progress', greatest(coalesce((metadata->'generation'->>'progress')::numeric, 0), ?::numeric)))`,
            [done, total, progress],
          ),
          updated_at: knex.fn.now(),
        });
    },

    /** Stores the run's result: the new text replaces the old one only now. */
    async complete(
      id: string,
      revision: number,
      result: { title: string; content: string; status: string; outline: JsonObject; generation: Partial<StoryGeneration> },
    ): Promise<boolean> {
      const n = await knex('stories')
        .where({ id })
        .andWhereRaw(`${REVISION} = ?`, [revision])
        .update({
          title: result.title.slice(0, 255),
          content: result.content,
          status: result.status,
          metadata: knex.raw(
            `jsonb_set(metadata || jsonb_build_object('outline', ?::jsonb), '{generation}', (metadata->'generation') || ?::jsonb)`,
            [JSON.stringify(result.outline), JSON.stringify(result.generation)],
          ),
          updated_at: knex.fn.now(),
        });
      return n > 0;
    },

    /** Ends the run with `status` (failed, or the status before a failed rewrite) and the error. */
    fail,

    /**
     * Ends a run that failed or was cancelled: a rewrite (revision > 1) puts the story
     * back to the status it had before it (`previousStatus`), a first run leaves it failed.
     */
    failRun(id: string, revision: number, previousStatus: string | undefined, error: { type: string; message: string }): Promise<boolean> {
      return fail(id, revision, revision > 1 && previousStatus ? previousStatus : 'failed', { stage: 'failed', error: { ...error } });
    },
  };
}

export type StoryGenerationRepository = ReturnType<typeof createStoryGenerationRepository>;
