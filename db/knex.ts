import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** Largest significand a double keeps exactly (about 15-16 decimal digits). */
const MAX_EXACT_DIGITS = 15;

function parseInt8(value: string): number | string {
  const n = Number(value);
  // Beyond 2^53 a number would silently change value; keep the text then.
  return Number.isSafeInteger(n) ? n : value;
}

function parseNumeric(value: string): number | string {
  const n = Number(value);
  if (!Number.isFinite(n)) return value; // 'NaN', 'Infinity' stay text
  const digits = value.replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return digits.length <= MAX_EXACT_DIGITS ? n : value;
}

/**
 * Type parsers for every connection this module opens. Per-connection rather than
 * `pg.types.setTypeParser`, so other users of `pg` in the process keep the defaults.
 * `count(*)`, `sum()` and bigserial ids come back as numbers while that is exact.
 */
export const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (format !== 'binary') {
      if (oid === INT8_OID) return parseInt8;
      if (oid === NUMERIC_OID) return parseNumeric;
    }
    // The `pg-types` typings are narrower than what pg accepts at run time.
    return (pg.types.getTypeParser as (oid: number, format?: string) => (value: string) => unknown)(
      oid,
      format,
    );
  },
} as unknown as pg.CustomTypesConfig;

export interface CreateDbOptions {
  /** Pool size ceiling; migrations need at least 2 (one holds the lock, one migrates). */
  maxConnections?: number;
  applicationName?: string;
}

/** A knex instance on PostgreSQL. The caller owns it and must `destroy()` it. */
export function createDb(url: string, options: CreateDbOptions = {}): Knex {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: url,
      types: pgTypes,
      application_name: options.applicationName ?? 'ebook-engine',
      keepAlive: true,
    } as Knex.PgConnectionConfig,
    pool: { min: 0, max: options.maxConnections ?? 10 },
    acquireConnectionTimeout: 30_000,
    // knex writes its warnings to stdout by default; stdout is the commands' answer
    // (`npm run --silent token` prints a token alone), so they go to stderr.
    log: {
      warn: (message: string) => process.stderr.write(`knex: ${message}\n`),
      error: (message: string) => process.stderr.write(`knex: ${message}\n`),
      deprecate: (method: string, alternative: string) => process.stderr.write(`knex: ${method} is deprecated, use ${alternative}\n`),
      debug: () => undefined,
    },
  });
}
