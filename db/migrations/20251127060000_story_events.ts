import type { Knex } from 'knex';

/**
 * A story's progress events, as `ebook_events` is a book's: what a client streams
 * from `GET /v1/stories/{id}/events` while a story is written (its storyline,
 * each section's text as it is moderated, the end of the run), and what a
 * `Last-Event-ID` resumes from. A run is named in each event's data, so one table
 * serves every rewrite of the story.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE story_events (
      id bigserial PRIMARY KEY,
      story_id uuid NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
      type text NOT NULL,
      data jsonb,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX idx_story_events_story_id ON story_events(story_id, id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS story_events');
}
