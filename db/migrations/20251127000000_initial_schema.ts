import type { Knex } from 'knex';

/**
 * The original product schema (profiles, stories, memory_books, user_activities),
 * with timestamps in time zone, plus what the workflow engine needs: book
 * progress and storage keys, domain-event dedupe keys and the event log that
 * feeds progress streams.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TYPE subscription_tier AS ENUM ('free', 'speak_now', 'midnights', 'eras_tour');
    CREATE TYPE story_status AS ENUM ('draft', 'generating', 'completed', 'failed', 'published', 'archived');
    CREATE TYPE book_status AS ENUM ('draft', 'queued', 'running', 'completed', 'failed', 'cancelled');

    CREATE TABLE profiles (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      clerk_user_id varchar(255) NOT NULL UNIQUE,
      -- Nullable: development tokens carry no email.
      email varchar(255) UNIQUE,
      name varchar(255),
      avatar_url text,
      role text NOT NULL DEFAULT 'user',
      subscription_tier subscription_tier NOT NULL DEFAULT 'free',
      subscription_expires_at timestamptz,
      preferences jsonb NOT NULL DEFAULT '{}',
      usage_stats jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE stories (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
      title varchar(255) NOT NULL,
      content text NOT NULL,
      prompt_data jsonb,
      generation_settings jsonb,
      metadata jsonb NOT NULL DEFAULT '{}',
      status story_status NOT NULL DEFAULT 'draft',
      view_count integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX idx_stories_user_id ON stories(user_id);
    CREATE INDEX idx_stories_created_at ON stories(created_at DESC);
    CREATE INDEX idx_stories_user_status ON stories(user_id, status);

    CREATE TABLE memory_books (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
      original_story_id uuid REFERENCES stories(id),
      title varchar(255) NOT NULL,
      description text,
      chapters jsonb NOT NULL DEFAULT '[]',
      metadata jsonb NOT NULL DEFAULT '{}',
      cover_image_url text,
      generation_settings jsonb,
      style_preferences jsonb,
      status book_status NOT NULL DEFAULT 'draft',
      published_at timestamptz,
      pdf_url text,
      epub_url text,
      images jsonb NOT NULL DEFAULT '[]',
      analytics jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      -- Engine columns: the workflow that builds the book, its progress, and
      -- storage keys (URLs are derived from keys and may change; keys do not).
      workflow_id text UNIQUE,
      stage text,
      progress real NOT NULL DEFAULT 0,
      error jsonb,
      prompt text,
      pdf_key text,
      epub_key text,
      cover_image_key text,
      file_version integer NOT NULL DEFAULT 0,
      providers jsonb NOT NULL DEFAULT '{}',
      cost jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX idx_memory_books_user_id ON memory_books(user_id);
    CREATE INDEX idx_memory_books_status ON memory_books(status);
    CREATE INDEX idx_books_user_status ON memory_books(user_id, status);
    CREATE INDEX idx_memory_books_created_at ON memory_books(created_at DESC);
    -- Serves the keyset-paginated "my books" list.
    CREATE INDEX idx_memory_books_user_created ON memory_books(user_id, created_at DESC, id DESC);

    CREATE TABLE user_activities (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
      activity_type varchar(50) NOT NULL,
      activity_data jsonb,
      ip_address inet,
      user_agent text,
      created_at timestamptz NOT NULL DEFAULT now(),
      -- A retried workflow step records its domain event once (NULLs never collide).
      dedupe_key text UNIQUE
    );
    CREATE INDEX idx_user_activities_user_id ON user_activities(user_id);
    CREATE INDEX idx_user_activities_type ON user_activities(activity_type);

    CREATE TABLE ebook_events (
      id bigserial PRIMARY KEY,
      ebook_id uuid NOT NULL REFERENCES memory_books(id) ON DELETE CASCADE,
      type text NOT NULL,
      data jsonb,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX idx_ebook_events_ebook_id ON ebook_events(ebook_id, id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS ebook_events;
    DROP TABLE IF EXISTS user_activities;
    DROP TABLE IF EXISTS memory_books;
    DROP TABLE IF EXISTS stories;
    DROP TABLE IF EXISTS profiles;
    DROP TYPE IF EXISTS book_status;
    DROP TYPE IF EXISTS story_status;
    DROP TYPE IF EXISTS subscription_tier;
  `);
}
