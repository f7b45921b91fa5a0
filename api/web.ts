/**
 * The web app for people: serves the built single-page app (`web/dist`) at `/`
 * and the local one-time sign-in links (like a notebook server's), which
 * stand in for Clerk's sign-in when no Clerk instance is configured.
 *
 * Sign-in codes live as files under `$DATA_DIR/signin/`, named by the code's
 * hash: the process that prints a link (`npm start`, a CLI) need not be the
 * API process that consumes it, and a rename makes consumption single-use
 * even with several API processes.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import express, { Router, type Request, type Response } from 'express';
import type { DevKeys } from '../lib/dev-keys';
import { signSessionToken } from '../lib/tokens';

export const SIGNIN_CODE_TTL_MS = 10 * 60 * 1000;
const DEFAULT_SESSION_TTL_SECONDS = 12 * 60 * 60;
const USER_ID = /^[\w.@-]{1,100}$/;

export interface WebRouterOptions {
  /** The local key pair that signs session tokens (the API verifies with its public half). */
  devKeys: DevKeys;
  dataDir: string;
  /** The built app; default `<repo>/web/dist`. */
  distDir?: string;
  /** Set when a Clerk instance is configured: the page then says Clerk signs people in. */
  clerkPublishableKey?: string;
  sessionTtlSeconds?: number;
  /** Records each session a sign-in link starts, so it can be listed and signed out. */
  recordSession?: (session: { id: string; clerkUserId: string; expiresAt: Date }) => Promise<void>;
}

function codesDir(dataDir: string): string {
  return path.join(dataDir, 'signin');
}

function codeFile(dataDir: string, code: string): string {
  // The file name is the code's hash, so a directory listing reveals no usable code.
  return path.join(codesDir(dataDir), `${createHash('sha256').update(code).digest('hex')}.json`);
}

/**
 * Creates a single-use sign-in code for `userId`, valid for 10 minutes, and
 * returns the link that redeems it. `dataDir` defaults to `$DATA_DIR` or `./data`,
 * as the engine's config does.
 */
export async function issueLocalSignInLink(
  baseUrl: string,
  userId: string,
  dataDir: string = path.resolve(process.env.DATA_DIR ?? './data'),
): Promise<string> {
  if (!USER_ID.test(userId)) throw new Error(`user id: use 1-100 letters, digits, ".", "@", "_" or "-" (got "${userId}")`);
  const code = randomBytes(24).toString('base64url');
  await fsp.mkdir(codesDir(dataDir), { recursive: true, mode: 0o700 });
  const record = { userId, expiresAt: Date.now() + SIGNIN_CODE_TTL_MS };
  await fsp.writeFile(codeFile(dataDir, code), JSON.stringify(record), { mode: 0o600, flag: 'wx' });
  await sweepExpired(dataDir);
  return `${baseUrl.replace(/\/+$/, '')}/signin?code=${encodeURIComponent(code)}`;
}

/** Consumes a code: the user id when it is valid and unused, else why not. */
export async function consumeSignInCode(
  dataDir: string,
  code: string,
): Promise<{ userId: string } | { error: 'invalid' | 'expired' }> {
  if (!/^[\w-]{16,100}$/.test(code)) return { error: 'invalid' };
  const file = codeFile(dataDir, code);
  // Rename first: of two concurrent redemptions only one rename succeeds.
  const claimed = `${file}.used-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fsp.rename(file, claimed);
  } catch {
    return { error: 'invalid' };
  }
  try {
    const record = JSON.parse(await fsp.readFile(claimed, 'utf8')) as { userId: string; expiresAt: number };
    if (!(record.expiresAt > Date.now())) return { error: 'expired' };
    if (!USER_ID.test(record.userId)) return { error: 'invalid' };
    return { userId: record.userId };
  } catch {
    return { error: 'invalid' };
  } finally {
    await fsp.rm(claimed, { force: true });
  }
}

async function sweepExpired(dataDir: string): Promise<void> {
  const dir = codesDir(dataDir);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  await Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name);
      try {
        const { mtimeMs } = await fsp.stat(file);
        // Old enough that its code has certainly expired (or a leftover claim file).
        if (Date.now() - mtimeMs > SIGNIN_CODE_TTL_MS * 2) await fsp.rm(file, { force: true });
      } catch {
        // Raced with a redemption: nothing to do.
      }
    }),
  );
}

export function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A small self-contained page for sign-in failures (the app itself may not be built). */
function signInProblemPage(res: Response, status: number, heading: string, text: string): void {
  res
    .status(status)
    .type('html')
    .setHeader('Cache-Control', 'no-store')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<title>${escapeHtml(heading)}</title><style>body{font:18px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1f1a17;background:#fbf8f3}a{color:#7a3413}</style></head>` +
        `<body><main><h1>${escapeHtml(heading)}</h1><p>${escapeHtml(text)}</p><p><a href="/">Go to the start page</a></p></main></body></html>`,
    );
}

// The API's own paths (and the public /shared JSON) are never answered with the app.
const NOT_THE_APP = /^\/(v1|shared|healthz|readyz|metrics)(\/|$)/;

/** The Clerk Frontend API host a publishable key names (`pk_test_` + base64 of `<host>$`). */
export function clerkFrontendHost(publishableKey: string): string | undefined {
  const m = /^pk_(test|live)_([A-Za-z0-9+/=_-]+)$/.exec(publishableKey);
  if (!m) return undefined;
  const host = Buffer.from(m[2], 'base64').toString('utf8').replace(/\$$/, '');
  return /^[a-z0-9.-]+(:\d+)?$/i.test(host) ? host : undefined;
}

/**
 * The page's Content-Security-Policy. Everything is the app's own, except with
 * Clerk: its script, API and avatars come from the instance's Frontend API and
 * img.clerk.com, and its bot protection from Cloudflare's challenge frame.
 */
export function pageCsp(clerkPublishableKey?: string): string {
  const host = clerkPublishableKey ? clerkFrontendHost(clerkPublishableKey) : undefined;
  const clerk = host ? ` https://${host}` : '';
  const challenge = host ? ' https://challenges.cloudflare.com' : '';
  return [
    "default-src 'self'",
    `script-src 'self'${clerk}${challenge}`,
    `img-src 'self' blob: data:${host ? ' https://img.clerk.com' : ''}`,
    "style-src 'self' 'unsafe-inline'",
    `connect-src 'self'${clerk}`,
    `frame-src 'self'${challenge}`,
    `worker-src 'self' blob:`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function createWebRouter(opts: WebRouterOptions): Router {
  const distDir = opts.distDir ?? path.resolve(__dirname, '..', 'web', 'dist');
  const indexFile = path.join(distDir, 'index.html');
  const clerk = Boolean(opts.clerkPublishableKey);
  const csp = pageCsp(opts.clerkPublishableKey);
  const router = Router();

  // What the page needs to know before anyone signs in.
  router.get('/web-config.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(
      clerk
        ? { signIn: 'clerk', clerkPublishableKey: opts.clerkPublishableKey }
        : { signIn: 'local-link', codeMinutes: SIGNIN_CODE_TTL_MS / 60_000 },
    );
  });

  router.get('/signin', async (req: Request, res: Response) => {
    res.setHeader('Referrer-Policy', 'no-referrer');
    // The socket's address, not X-Forwarded-For: a proxy on this machine must not vouch for others.
    if (!isLoopback(req.socket.remoteAddress)) {
      signInProblemPage(
        res,
        403,
        'Sign-in links work only on this computer',
        'Local sign-in links are accepted only from the machine the engine runs on. Open the link in a browser on that machine.',
      );
      return;
    }
    const code = typeof req.query.code === 'string' ? req.query.code : '';
    const result = await consumeSignInCode(opts.dataDir, code);
    if ('error' in result) {
      signInProblemPage(
        res,
        result.error === 'expired' ? 410 : 400,
        result.error === 'expired' ? 'This sign-in link has expired' : 'This sign-in link is not valid',
        `Each link works once, for ${SIGNIN_CODE_TTL_MS / 60_000} minutes. Ask for a new one where the engine runs (npm start prints one) and open it straight away.`,
      );
      return;
    }
    const ttl = opts.sessionTtlSeconds ?? DEFAULT_SESSION_TTL_SECONDS;
    const sessionId = `sess_web_${randomBytes(8).toString('hex')}`;
    await opts.recordSession?.({ id: sessionId, clerkUserId: result.userId, expiresAt: new Date(Date.now() + ttl * 1000) });
    const token = await signSessionToken(opts.devKeys, { userId: result.userId, ttlSeconds: ttl, sessionId });
    // In the fragment, so the token never reaches a server log or a Referer header.
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, `/#token=${encodeURIComponent(token)}`);
  });

  router.use(
    express.static(distDir, {
      index: false,
      fallthrough: true,
      setHeaders(res, file) {
        // Vite puts a content hash in every asset name: those never change.
        if (file.includes(`${path.sep}assets${path.sep}`)) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      },
    }),
  );

  // SPA fallback: any other page address (no file extension, not the API) is the app.
  router.get(/.*/, (req, res, next) => {
    if (NOT_THE_APP.test(req.path) || path.extname(req.path) !== '') return next();
    if (!fs.existsSync(indexFile)) {
      res
        .status(503)
        .type('text/plain')
        .send('The web app is not built yet. Run "npm run build:web", then reload this page.\n');
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.sendFile(indexFile);
  });

  return router;
}
