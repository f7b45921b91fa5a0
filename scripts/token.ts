/**
 * `npm run --silent token -- <userId> [--role admin] [--ttl 3600]`: prints one
 * bearer token (a Clerk-format session JWT signed with the local key in
 * $DATA_DIR/keys) that the local API accepts. The session is recorded in the
 * database (when it can be reached), so it is listed and can be signed out.
 */
import { randomUUID } from 'node:crypto';
import { databaseUrl, loadConfig } from '../lib/config';
import { createDb } from '../db/knex';
import { migrate } from '../db/migrate';
import { createSessionRepository } from '../db/sessions';
import { ensureDevKeys } from '../lib/dev-keys';
import { signSessionToken } from '../lib/tokens';

function fail(message: string): never {
  process.stderr.write(`token: ${message}\nusage: npm run --silent token -- <userId> [--role user|admin] [--ttl seconds]\n`);
  process.exit(2);
}

async function main() {
  const args = process.argv.slice(2);
  let userId: string | undefined;
  let role = 'user';
  let ttl = 24 * 3600;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--role') {
      role = args[++i] ?? fail('--role needs a value');
      if (role !== 'user' && role !== 'admin') fail(`--role must be user or admin, got "${role}"`);
    } else if (a === '--ttl') {
      const v = args[++i];
      if (!v || !/^\d+$/.test(v) || Number(v) < 1) fail('--ttl must be a positive number of seconds');
      ttl = Number(v);
    } else if (a.startsWith('--')) {
      fail(`unknown flag ${a}`);
    } else if (userId === undefined) {
      userId = a;
    } else {
      fail(`unexpected argument "${a}"`);
    }
  }
  if (!userId) fail('a <userId> is required');
  if (!/^[\w.@-]{1,64}$/.test(userId)) fail('<userId> may hold letters, digits and . _ @ - (at most 64)');
  const config = loadConfig();
  const keys = ensureDevKeys(config.dataDir);
  const sessionId = `sess_${randomUUID()}`;
  const token = await signSessionToken(keys, { userId, role, ttlSeconds: ttl, sessionId });
  await recordSession(config, { id: sessionId, clerkUserId: userId, source: 'token-cli', expiresAt: new Date(Date.now() + ttl * 1000) });
  process.stdout.write(`${token}\n`);
}

/** A token is still printed without a database (the API may not have started yet), but it cannot be signed out. */
async function recordSession(config: ReturnType<typeof loadConfig>, session: Parameters<ReturnType<typeof createSessionRepository>['record']>[0]) {
  const knex = createDb(databaseUrl(config));
  try {
    await migrate(knex);
    await createSessionRepository(knex).record(session);
  } catch (err) {
    process.stderr.write(`token: the session was not recorded (${err instanceof Error ? err.message : String(err)}); it cannot be signed out\n`);
  } finally {
    await knex.destroy();
  }
}

main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
