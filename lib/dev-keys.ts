import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config';

/**
 * The local identity: with no Clerk instance configured, an RS256 key pair in
 * `$DATA_DIR/keys` stands in for Clerk's instance key. The API verifies session
 * tokens against its public half exactly as it would verify Clerk's;
 * `npm run token` signs with the private half.
 */
export interface DevKeys {
  privateKeyPem: string;
  publicKeyPem: string;
  kid: string;
}

export function ensureDevKeys(dataDir: string): DevKeys {
  const dir = path.join(dataDir, 'keys');
  const priv = path.join(dir, 'dev-session-key.pem');
  const pub = path.join(dir, 'dev-session-key.pub.pem');
  if (!fs.existsSync(priv) || !fs.existsSync(pub)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // Exclusive create: when two processes start at once, the first key pair wins.
    try {
      fs.writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      fs.writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }), { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return {
    privateKeyPem: fs.readFileSync(priv, 'utf8'),
    publicKeyPem: fs.readFileSync(pub, 'utf8'),
    kid: 'ins_local_dev',
  };
}

/** The Clerk settings the API runs with: the configured instance's, or the local stand-ins. */
export function clerkSettings(config: Config): {
  jwtKey: string;
  secretKey: string;
  publishableKey: string;
  local: boolean;
  /** The local key pair (local only): the API issues sessions with it. */
  devKeys?: DevKeys;
} {
  if (config.clerk.jwtKey) {
    if (!config.clerk.secretKey) throw new Error('CLERK_SECRET_KEY: required when CLERK_JWT_KEY is set');
    return {
      jwtKey: config.clerk.jwtKey,
      secretKey: config.clerk.secretKey,
      publishableKey: config.clerk.publishableKey ?? localPublishableKey(),
      local: false,
    };
  }
  const devKeys = ensureDevKeys(config.dataDir);
  return {
    jwtKey: devKeys.publicKeyPem,
    // Clerk's middleware insists on a secret key even when it verifies networklessly.
    secretKey: 'sk_test_local_development_only',
    publishableKey: localPublishableKey(),
    local: true,
    devKeys,
  };
}

function localPublishableKey(): string {
  return `pk_test_${Buffer.from('clerk.localhost$').toString('base64')}`;
}
