/**
 * `npm run --silent token -- <userId> [--role admin] [--ttl 3600]`: prints one
 * bearer token (a Clerk-format session JWT signed with the local key in
 * $DATA_DIR/keys) that the local API accepts.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../lib/config';
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
  const token = await signSessionToken(keys, { userId, role, ttlSeconds: ttl, sessionId: `sess_${randomUUID()}` });
  process.stdout.write(`${token}\n`);
}

main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
