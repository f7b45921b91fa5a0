import { importPKCS8, SignJWT } from 'jose';
import type { DevKeys } from './dev-keys';

/** Signs a session token shaped like Clerk's (sub, sid, iat, nbf, exp; role in `metadata`). */
export async function signSessionToken(
  keys: DevKeys,
  opts: { userId: string; role?: string; ttlSeconds?: number; sessionId?: string; now?: number },
): Promise<string> {
  const key = await importPKCS8(keys.privateKeyPem, 'RS256');
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: opts.sessionId ?? 'sess_local', metadata: { role: opts.role ?? 'user' } })
    .setProtectedHeader({ alg: 'RS256', kid: keys.kid, typ: 'JWT' })
    .setSubject(opts.userId)
    .setIssuer('https://clerk.localhost')
    .setIssuedAt(now)
    .setNotBefore(now - 5)
    .setExpirationTime(now + (opts.ttlSeconds ?? 3600))
    .sign(key);
}
