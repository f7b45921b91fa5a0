/**
 * Sessions (issue 22): tokens validated with their claims, the caller's live
 * sessions listed, new ones issued with the local key, and signing out (one
 * session or all) refusing the session's tokens on the very next request, with
 * the local key and with a Clerk instance whose Backend API is a local server.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { useTestStack } from '../helpers/stack';
import { api, exec } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';
import { createApp } from '../../api/app';
import { createLogger } from '../../lib/logger';
import { clerkSettings, type DevKeys } from '../../lib/dev-keys';
import { issueLocalSignInLink } from '../../api/web';

describe('sessions', function () {
  this.timeout(180_000);
  const stack = useTestStack();
  let url: string;

  before(async () => {
    ({ url } = await stack.startApi());
  });

  /** A token of a recorded session, as `npm run token` makes one. */
  async function recordedToken(userId: string, sessionId: string, role = 'user') {
    await stack.services.repos.sessions.record({ id: sessionId, clerkUserId: userId, source: 'token-cli', expiresAt: new Date(Date.now() + 3600_000) });
    return signSessionToken(stack.devKeys, { userId, role, sessionId });
  }

  it('validates a token and answers its verified claims; a forged one is not valid', async () => {
    const caller = await recordedToken('val', 'sess_val_caller');
    const other = await signSessionToken(stack.devKeys, { userId: 'someone', role: 'admin', sessionId: 'sess_someone' });
    const res = await api(url, 'POST', '/v1/auth/clerk/validate', { token: caller, body: { token: other } });
    assert.equal(res.status, 200);
    assert.equal(res.body.valid, true);
    assert.equal(res.body.userId, 'someone');
    assert.equal(res.body.sessionId, 'sess_someone');
    assert.equal(res.body.role, 'admin');
    assert.ok(Date.parse(res.body.expiresAt) > Date.now());
    assert.equal(res.body.claims.sub, 'someone');
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const forged = await signSessionToken({ ...stack.devKeys, privateKeyPem: await exportPKCS8(privateKey) }, { userId: 'someone' });
    const bad = await api(url, 'POST', '/v1/auth/clerk/validate', { token: caller, body: { token: forged } });
    assert.equal(bad.status, 200);
    assert.equal(bad.body.valid, false);
    const missing = await api(url, 'POST', '/v1/auth/clerk/validate', { token: caller, body: {} });
    assert.equal(missing.status, 400);
  });

  it('lists the live sessions, signs one out and refuses its token at once', async () => {
    const laptop = await recordedToken('lena', 'sess_lena_laptop');
    const phone = await recordedToken('lena', 'sess_lena_phone');
    // Used once, so the API remembers the verified token (the revocation must still win).
    assert.equal((await api(url, 'GET', '/v1/auth/session', { token: phone })).status, 200);
    const valid = await api(url, 'GET', '/v1/auth/sessions/validate', { token: laptop });
    assert.equal(valid.status, 200);
    assert.deepEqual([valid.body.valid, valid.body.userId, valid.body.sessionId, valid.body.source], [true, 'lena', 'sess_lena_laptop', 'token-cli']);
    const list = await api(url, 'GET', '/v1/auth/sessions', { token: laptop });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.items.map((s: { id: string }) => s.id).sort(), ['sess_lena_laptop', 'sess_lena_phone']);
    assert.equal(list.body.items.find((s: { id: string }) => s.id === 'sess_lena_laptop').current, true);

    const out = await api(url, 'DELETE', '/v1/auth/sessions/destroy?sessionId=sess_lena_phone', { token: laptop });
    assert.equal(out.status, 200);
    assert.deepEqual(out.body.revoked, ['sess_lena_phone']);
    const refused = await api(url, 'GET', '/v1/auth/session', { token: phone });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.reason, 'session_revoked');
    assert.equal((await api(url, 'GET', '/v1/auth/session', { token: laptop })).status, 200);
    // Another API process (its own cache) refuses it too.
    const second = await stack.startApi();
    assert.equal((await api(second.url, 'GET', '/v1/auth/session', { token: phone })).status, 401);
    // Signing out is audited.
    const profile = await stack.services.repos.profiles.getByClerkId('lena');
    const activity = await stack.services.repos.activities.listForUser(profile!.id);
    assert.ok(activity.some((a) => a.type === 'sessions_revoked'));
  });

  it("cannot sign out another user's session, except as an admin", async () => {
    const mine = await recordedToken('mia', 'sess_mia');
    const theirs = await recordedToken('noah', 'sess_noah');
    const forbidden = await api(url, 'DELETE', '/v1/auth/sessions/destroy?userId=noah&all=true', { token: mine });
    assert.equal(forbidden.status, 403);
    // Naming their session id as one's own finds nothing.
    const notMine = await api(url, 'DELETE', '/v1/auth/sessions/destroy?sessionId=sess_noah', { token: mine });
    assert.equal(notMine.status, 404);
    assert.equal((await api(url, 'GET', '/v1/auth/session', { token: theirs })).status, 200);
    const admin = await recordedToken('ada', 'sess_ada', 'admin');
    const byAdmin = await api(url, 'DELETE', '/v1/auth/sessions/destroy?userId=noah&all=true', { token: admin });
    assert.equal(byAdmin.status, 200);
    assert.deepEqual(byAdmin.body.revoked, ['sess_noah']);
    assert.equal((await api(url, 'GET', '/v1/auth/session', { token: theirs })).status, 401);
  });

  it('issues a new session with the local key, and signs every session out', async () => {
    const first = await recordedToken('otto', 'sess_otto_1');
    const created = await api(url, 'POST', '/v1/auth/sessions/create', { token: first, body: { ttlSeconds: 600 } });
    assert.equal(created.status, 201);
    assert.equal(created.body.created, true);
    const second = created.body.token as string;
    assert.equal((await api(url, 'GET', '/v1/auth/session', { token: second })).body.sessionId, created.body.sessionId);
    const everywhere = await api(url, 'DELETE', '/v1/auth/sessions/destroy?all=true', { token: second });
    assert.equal(everywhere.status, 200);
    assert.deepEqual(everywhere.body.revoked.sort(), [created.body.sessionId, 'sess_otto_1'].sort());
    for (const t of [first, second]) assert.equal((await api(url, 'GET', '/v1/auth/session', { token: t })).status, 401);
  });

  it('records the session `npm run token` prints, so it can be signed out', async function () {
    const tsx = path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');
    const { stdout } = await exec(tsx, ['scripts/token.ts', 'tess'], {
      cwd: path.join(__dirname, '..', '..'),
      env: { ...process.env, DATA_DIR: stack.dataDir, DATABASE_URL: stack.databaseUrl, LOG_LEVEL: 'warn' },
    });
    const token = stdout.trim();
    const list = await api(url, 'GET', '/v1/auth/sessions', { token });
    assert.equal(list.status, 200);
    assert.equal(list.body.items.length, 1);
    assert.equal(list.body.items[0].source, 'token-cli');
    assert.equal((await api(url, 'DELETE', '/v1/auth/sessions/destroy', { token })).status, 200);
    assert.equal((await api(url, 'GET', '/v1/auth/session', { token })).status, 401);
  });

  it('records the session a local sign-in link starts, so it can be signed out', async () => {
    const app = createApp({
      services: stack.services,
      temporal: stack.client,
      auth: clerkSettings(stack.config),
      log: createLogger('t', 'silent'),
      taskQueue: stack.taskQueue,
      chapterConcurrency: 1,
      web: { dataDir: stack.dataDir },
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const link = await issueLocalSignInLink(base, 'sina', stack.dataDir);
      const res = await fetch(link, { redirect: 'manual' });
      assert.equal(res.status, 303);
      const token = decodeURIComponent(/#token=(.+)$/.exec(res.headers.get('location') ?? '')![1]);
      const list = await api(base, 'GET', '/v1/auth/sessions', { token });
      assert.equal(list.body.items.length, 1);
      assert.equal(list.body.items[0].source, 'signin-link');
      assert.equal(list.body.items[0].current, true);
      assert.equal((await api(base, 'DELETE', '/v1/auth/sessions/destroy', { token })).status, 200);
      assert.equal((await api(base, 'GET', '/v1/auth/session', { token })).status, 401);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  describe('with a Clerk instance (its Backend API served locally)', () => {
    let clerkApi: Server;
    let apiUrl: string;
    let keys: DevKeys;
    let appUrl: string;
    const calls: string[] = [];
    const metadata = new Map<string, { public_metadata?: { role?: string } }>();
    const sessions = new Map<string, { id: string; user_id: string; status: string }>([
      ['sess_c1', { id: 'sess_c1', user_id: 'user_clara', status: 'active' }],
      ['sess_c2', { id: 'sess_c2', user_id: 'user_clara', status: 'active' }],
      ['sess_x', { id: 'sess_x', user_id: 'user_other', status: 'active' }],
    ]);
    const json = (s: { id: string; user_id: string; status: string }) => ({
      object: 'session',
      id: s.id,
      client_id: 'client_1',
      user_id: s.user_id,
      status: s.status,
      last_active_at: 1_700_000_000_000,
      expire_at: 1_800_000_000_000,
      abandon_at: 1_800_000_000_000,
      created_at: 1_700_000_000_000,
      updated_at: 1_700_000_000_000,
    });

    before(async () => {
      // The Backend API endpoints the session routes call, as Clerk documents them.
      clerkApi = http.createServer((req, res) => {
        calls.push(`${req.method} ${req.url}`);
        const u = new URL(req.url!, 'http://x');
        const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (req.headers.authorization !== 'Bearer sk_test_clerk_local') return send(401, { errors: [{ code: 'authentication_invalid', message: 'bad key' }] });
        let m: RegExpMatchArray | null;
        if (req.method === 'GET' && u.pathname === '/v1/sessions') {
          const items = [...sessions.values()].filter((s) => s.user_id === u.searchParams.get('user_id') && (!u.searchParams.get('status') || s.status === u.searchParams.get('status')));
          return send(200, { data: items.map(json), total_count: items.length });
        }
        if ((m = u.pathname.match(/^\/v1\/sessions\/([\w]+)(\/revoke)?$/))) {
          const s = sessions.get(m[1]);
          if (!s) return send(404, { errors: [{ code: 'resource_not_found', message: 'not found' }] });
          if (req.method === 'POST' && m[2]) s.status = 'revoked';
          return send(200, json(s));
        }
        if (req.method === 'PATCH' && (m = u.pathname.match(/^\/v1\/users\/(\w+)\/metadata$/))) {
          let raw = '';
          req.on('data', (c) => (raw += c));
          req.on('end', () => {
            metadata.set(m![1], JSON.parse(raw));
            send(200, { object: 'user', id: m![1], public_metadata: JSON.parse(raw).public_metadata ?? {} });
          });
          return;
        }
        send(404, { errors: [{ code: 'resource_not_found', message: 'no route' }] });
      });
      await new Promise<void>((r) => clerkApi.listen(0, '127.0.0.1', r));
      apiUrl = `http://127.0.0.1:${(clerkApi.address() as AddressInfo).port}`;
      const pair = await generateKeyPair('RS256', { extractable: true });
      keys = { privateKeyPem: await exportPKCS8(pair.privateKey), publicKeyPem: await exportSPKI(pair.publicKey), kid: 'ins_test' };
      const app = createApp({
        services: stack.services,
        temporal: stack.client,
        auth: { jwtKey: keys.publicKeyPem, secretKey: 'sk_test_clerk_local', publishableKey: `pk_test_${Buffer.from('clerk.example.test$').toString('base64')}`, apiUrl },
        log: createLogger('t', 'silent'),
        taskQueue: stack.taskQueue,
        chapterConcurrency: 1,
      });
      const server = await new Promise<Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      stack.defer(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
      stack.defer(() => new Promise((r) => clerkApi.close(r)));
      appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    it("lists through Clerk, revokes through Clerk and refuses the revoked session's token at once", async () => {
      const c1 = await signSessionToken(keys, { userId: 'user_clara', sessionId: 'sess_c1' });
      const c2 = await signSessionToken(keys, { userId: 'user_clara', sessionId: 'sess_c2' });
      const list = await api(appUrl, 'GET', '/v1/auth/sessions', { token: c1 });
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items.map((s: { id: string }) => s.id).sort(), ['sess_c1', 'sess_c2']);
      assert.ok(calls.some((c) => c.startsWith('GET /v1/sessions?') && c.includes('user_id=user_clara') && c.includes('status=active')), calls.join('\n'));
      // Another user's Clerk session id is not the caller's to end.
      assert.equal((await api(appUrl, 'DELETE', '/v1/auth/sessions/destroy?sessionId=sess_x', { token: c1 })).status, 404);
      assert.equal(sessions.get('sess_x')!.status, 'active');

      const out = await api(appUrl, 'DELETE', '/v1/auth/sessions/destroy?sessionId=sess_c2', { token: c1 });
      assert.equal(out.status, 200);
      assert.ok(calls.includes('POST /v1/sessions/sess_c2/revoke'));
      assert.equal(sessions.get('sess_c2')!.status, 'revoked');
      // Clerk's token would live on for up to a minute; the API refuses it now.
      assert.equal((await api(appUrl, 'GET', '/v1/auth/session', { token: c2 })).status, 401);
      assert.equal((await api(appUrl, 'GET', '/v1/auth/session', { token: c1 })).status, 200);
    });

    it("writes an admin's role change to the user's Clerk metadata and signs a demoted admin out through Clerk", async () => {
      sessions.set('sess_d1', { id: 'sess_d1', user_id: 'user_dora', status: 'active' });
      const dora = await signSessionToken(keys, { userId: 'user_dora', role: 'admin', sessionId: 'sess_d1' });
      assert.equal((await api(appUrl, 'GET', '/v1/users/me/profile', { token: dora })).body.role, 'admin');
      const root = await signSessionToken(keys, { userId: 'user_root', role: 'admin', sessionId: 'sess_root' });
      const res = await api(appUrl, 'PUT', '/v1/auth/users/user_dora', { token: root, body: { role: 'user' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(metadata.get('user_dora'), { public_metadata: { role: 'user' } });
      assert.deepEqual(res.body.signedOut, ['sess_d1']);
      assert.equal(sessions.get('sess_d1')!.status, 'revoked');
      assert.equal((await api(appUrl, 'GET', '/v1/auth/session', { token: dora })).status, 401);
    });

    it('validates the session with Clerk: one ended at Clerk (not through this API) is refused from then on', async () => {
      sessions.set('sess_e1', { id: 'sess_e1', user_id: 'user_eve', status: 'active' });
      const eve = await signSessionToken(keys, { userId: 'user_eve', sessionId: 'sess_e1' });
      const ok = await api(appUrl, 'GET', '/v1/auth/sessions/validate', { token: eve });
      assert.equal(ok.status, 200);
      assert.deepEqual([ok.body.valid, ok.body.issuer, ok.body.sessionId], [true, 'clerk', 'sess_e1']);
      sessions.get('sess_e1')!.status = 'ended'; // signed out in another tab, say
      const ended = await api(appUrl, 'GET', '/v1/auth/sessions/validate', { token: eve });
      assert.equal(ended.status, 401);
      assert.equal(ended.body.reason, 'session_ended');
      assert.equal((await api(appUrl, 'GET', '/v1/auth/session', { token: eve })).status, 401);
    });

    it('answers `create` with what a client must do: sign in with Clerk', async () => {
      const c1 = await signSessionToken(keys, { userId: 'user_clara', sessionId: 'sess_c1' });
      const res = await api(appUrl, 'POST', '/v1/auth/sessions/create', { token: c1, body: {} });
      assert.equal(res.status, 200);
      assert.equal(res.body.created, false);
      assert.equal(res.body.signIn, 'clerk');
      assert.equal(res.body.frontendApi, 'https://clerk.example.test');
      assert.match(res.body.instructions, /getToken/);
    });
  });
});
