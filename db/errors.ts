/**
 * Telling a lost database connection (PostgreSQL restarting, a backend terminated, the
 * network between) from everything else. A lost connection is temporary and leaves
 * nothing half-written: the server rolled back whatever transaction was open on it.
 */

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * What pg and knex say when the connection is gone: the server's own 57P01 (admin
 * shutdown: `pg_ctl stop -m fast`, `pg_terminate_backend`), 57P02 (crash shutdown),
 * 57P03 (starting up or shutting down), 08xxx (connection exceptions), and the
 * client-side messages of a socket that closed under a query or a transaction (knex
 * prefixes the statement, so "ROLLBACK - Connection terminated unexpectedly" is one).
 */
const MESSAGES = [
  /Connection terminated/i,
  /Client has encountered a connection error and is not queryable/i,
  /Client was closed and is not queryable/i,
  /Connection ended unexpectedly/i,
  /the database system is (shutting down|starting up|in recovery mode)/i,
  /terminating connection due to administrator command/i,
  /Timeout acquiring a connection/i,
];

export function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code)) return true;
  if (/^08/.test(code) || code === '57P01' || code === '57P02' || code === '57P03') return true;
  if (e.name === 'KnexTimeoutError') return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return MESSAGES.some((m) => m.test(message));
}
