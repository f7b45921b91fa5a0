/**
 * Users for administrators (issue 22): an admin reads and changes a user's
 * profile, role and plan, each call recorded in the user's activity; taking
 * admin away signs the user out at once; deleting starts the user's erasure.
 */
import assert from 'node:assert/strict';
import { useTestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

describe('users for administrators', function () {
  this.timeout(120_000);
  const stack = useTestStack();
  let url: string;
  let admin: string;

  before(async () => {
    ({ url } = await stack.startApi());
    admin = await signSessionToken(stack.devKeys, { userId: 'root', role: 'admin', sessionId: 'sess_root' });
  });

  it('reads and changes profile, role and plan, and records who did it', async () => {
    const user = await signSessionToken(stack.devKeys, { userId: 'uma', sessionId: 'sess_uma' });
    assert.equal((await api(url, 'GET', '/v1/auth/session', { token: user })).status, 200);
    await api(url, 'PUT', '/v1/users/me/profile', { token: user, body: { name: 'Uma' } });

    const read = await api(url, 'GET', '/v1/auth/users/uma', { token: admin });
    assert.equal(read.status, 200);
    assert.equal(read.body.name, 'Uma');
    assert.equal(read.body.role, 'user');
    assert.equal(read.body.plan.tier, 'free');

    const changed = await api(url, 'PUT', '/v1/auth/users/uma', { token: admin, body: { name: 'Uma K.', plan: { tier: 'midnights' } } });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.name, 'Uma K.');
    assert.equal(changed.body.plan.tier, 'midnights');
    assert.equal((await api(url, 'GET', '/v1/users/me/subscription', { token: user })).body.tier, 'midnights');

    const profile = await stack.services.repos.profiles.getByClerkId('uma');
    const activity = await stack.services.repos.activities.listForUser(profile!.id);
    const update = activity.find((a) => a.type === 'admin_user_updated');
    assert.ok(update, 'the change is recorded');
    assert.equal((update!.data as { by: string }).by, 'root');
    assert.deepEqual(Object.keys((update!.data as { changed: object }).changed).sort(), ['name', 'plan']);
    assert.ok(activity.some((a) => a.type === 'admin_user_viewed'), 'the read is recorded');

    assert.equal((await api(url, 'PUT', '/v1/auth/users/uma', { token: admin, body: {} })).status, 400);
    assert.equal((await api(url, 'PUT', '/v1/auth/users/uma', { token: admin, body: { role: 'owner' } })).status, 400);
    assert.equal((await api(url, 'GET', '/v1/auth/users/nobody', { token: admin })).status, 404);
    assert.equal((await api(url, 'GET', '/v1/auth/users/uma', { token: user })).status, 403);
  });

  it("taking admin away signs the user out everywhere at once", async () => {
    await stack.services.repos.sessions.record({ id: 'sess_ex_admin', clerkUserId: 'exa', source: 'token-cli' });
    const ex = await signSessionToken(stack.devKeys, { userId: 'exa', role: 'admin', sessionId: 'sess_ex_admin' });
    // Their first request makes their profile, with the token's role.
    assert.equal((await api(url, 'GET', '/v1/users/me/profile', { token: ex })).body.role, 'admin');
    const promoted = await api(url, 'PUT', '/v1/auth/users/exa', { token: admin, body: { role: 'admin' } });
    assert.equal(promoted.status, 200);
    assert.deepEqual(promoted.body.signedOut, []);
    const demoted = await api(url, 'PUT', '/v1/auth/users/exa', { token: admin, body: { role: 'user' } });
    assert.equal(demoted.status, 200);
    assert.equal(demoted.body.role, 'user');
    assert.deepEqual(demoted.body.signedOut, ['sess_ex_admin']);
    const refused = await api(url, 'GET', '/v1/auth/session', { token: ex });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.reason, 'session_revoked');
  });

  it('DELETE erases the user as DELETE /v1/users/{id} does; an unknown user is a 404', async () => {
    await stack.startWorker();
    const res = await api(url, 'DELETE', '/v1/auth/users/uma', { token: admin });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.status, 'erasing');
    await stack.client.workflow.getHandle(res.body.workflowId).result();
    assert.equal(await stack.services.repos.profiles.getByClerkId('uma'), undefined, 'the profile is gone');
    const unknown = await api(url, 'DELETE', '/v1/auth/users/nobody-here', { token: admin });
    assert.equal(unknown.status, 404);
    assert.match(unknown.headers.get('content-type') ?? '', /problem\+json/);
  });
});
