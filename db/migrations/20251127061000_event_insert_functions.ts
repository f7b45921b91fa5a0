import type { Knex } from 'knex';

/**
 * One round trip per event on the Redis bus (db/events.ts). Its insert must take the
 * owner's advisory lock, then read the owner's previous event id in a statement that
 * starts after the lock (so it sees every event committed before), then insert: that
 * was BEGIN, the lock, the insert and COMMIT, four round trips for the busiest write
 * of the system (every piece of chapter text). A VOLATILE PL/pgSQL function takes a
 * fresh snapshot for each statement under READ COMMITTED, so the same steps run as
 * one call, in the caller's transaction or in the call's own.
 */
const insertFunction = (name: string, table: string, ownerColumn: string) => `
  CREATE FUNCTION ${name}(lock_key text, owner_id uuid, event_type text, event_data jsonb)
  RETURNS TABLE (id bigint, created_at timestamptz, prev_id bigint)
  LANGUAGE plpgsql VOLATILE AS $$
  #variable_conflict use_column
  BEGIN
    -- Held until the calling transaction ends: an owner's events commit in id order.
    PERFORM pg_advisory_xact_lock(hashtextextended(lock_key, 0));
    -- A statement of its own, after the lock: its snapshot has every earlier event of the owner.
    RETURN QUERY
      INSERT INTO ${table} AS e (${ownerColumn}, type, data)
      VALUES (owner_id, event_type, event_data)
      RETURNING e.id, e.created_at,
        (SELECT coalesce(max(p.id), 0) FROM ${table} p WHERE p.${ownerColumn} = owner_id);
  END $$;
`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(insertFunction('insert_ebook_event', 'ebook_events', 'ebook_id'));
  await knex.raw(insertFunction('insert_story_event', 'story_events', 'story_id'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS insert_story_event(text, uuid, text, jsonb)');
  await knex.raw('DROP FUNCTION IF EXISTS insert_ebook_event(text, uuid, text, jsonb)');
}
