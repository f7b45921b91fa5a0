/**
 * A user's profile, preferences, activity, analytics and permissions, and the
 * session check, against the real app and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { useTestStack } from '../helpers/stack';
import { api } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

describe('Profiles, preferences, activity, analytics, permissions', function () {
  const stack = useTestStack();
  let url: string;
  const token = (userId: string, role = 'user', sessionId?: string) =>
    signSessionToken(stack.devKeys, { userId, role, sessionId });

  before(async () => {
    ({ url } = await stack.startApi());
  });

  it('shows and changes the profile; email is not editable; others get 404, admins see it', async () => {
    const amy = await token('amy');
    const get = await api(url, 'GET', '/v1/users/me/profile', { token: amy });
    assert.equal(get.status, 200);
    assert.equal(get.body.userId, 'amy');
    assert.equal(get.body.name, null);
    const put = await api(url, 'PUT', '/v1/users/me/profile', {
      token: amy,
      body: { name: 'Amy Pond', avatarUrl: 'https://img.example.com/amy.png' },
    });
    assert.equal(put.status, 200);
    assert.equal(put.body.name, 'Amy Pond');
    assert.equal(put.body.avatarUrl, 'https://img.example.com/amy.png');
    assert.equal((await api(url, 'GET', '/v1/users/amy/profile', { token: amy })).body.name, 'Amy Pond');

    const http = await api(url, 'PUT', '/v1/users/me/profile', { token: amy, body: { avatarUrl: 'http://img.example.com/a.png' } });
    assert.equal(http.status, 400);
    assert.equal(http.body.errors[0].field, 'body.avatarUrl');
    const email = await api(url, 'PUT', '/v1/users/me/profile', { token: amy, body: { email: 'a@example.com' } });
    assert.equal(email.status, 400);
    assert.equal(email.body.errors[0].field, 'body.email');
    const long = await api(url, 'PUT', '/v1/users/me/profile', { token: amy, body: { name: 'x'.repeat(256) } });
    assert.equal(long.body.errors[0].field, 'body.name');

    const ben = await token('ben');
    assert.equal((await api(url, 'GET', '/v1/users/amy/profile', { token: ben })).status, 404);
    assert.equal((await api(url, 'PUT', '/v1/users/amy/profile', { token: ben, body: { name: 'x' } })).status, 404);
    const admin = await token('root', 'admin');
    assert.equal((await api(url, 'GET', '/v1/users/amy/profile', { token: admin })).body.name, 'Amy Pond');
    assert.equal((await api(url, 'GET', '/v1/users/nobody/profile', { token: admin })).status, 404);
  });

  it('merges preferences, validating known keys and refusing unknown ones by name', async () => {
    const cal = await token('cal');
    assert.deepEqual((await api(url, 'GET', '/v1/users/me/preferences', { token: cal })).body, {});
    const first = await api(url, 'PUT', '/v1/users/me/preferences', {
      token: cal,
      body: { defaultEra: 'folklore-evermore', defaultChapterCount: 5, language: 'en-GB' },
    });
    assert.equal(first.status, 200);
    const second = await api(url, 'PUT', '/v1/users/me/preferences', {
      token: cal,
      body: { emailNotifications: false, defaultChapterCount: null, defaultStyle: 'watercolour' },
    });
    assert.deepEqual(second.body, {
      defaultEra: 'folklore-evermore',
      language: 'en-GB',
      emailNotifications: false,
      defaultStyle: 'watercolour',
    });
    assert.deepEqual((await api(url, 'GET', '/v1/users/cal/preferences', { token: cal })).body, second.body);

    const cases: Array<[Record<string, unknown>, string]> = [
      [{ theme: 'dark' }, 'body.theme'],
      [{ defaultEra: 'jazz-age' }, 'body.defaultEra'],
      [{ defaultChapterCount: 25 }, 'body.defaultChapterCount'],
      [{ language: 'english!' }, 'body.language'],
      [{ emailNotifications: 'yes' }, 'body.emailNotifications'],
    ];
    for (const [body, field] of cases) {
      const r = await api(url, 'PUT', '/v1/users/me/preferences', { token: cal, body });
      assert.equal(r.status, 400, field);
      assert.equal(r.body.errors[0].field, field);
    }
    const big = await api(url, 'PUT', '/v1/users/me/preferences', { token: cal, body: { defaultStyle: 'x'.repeat(17_000) } });
    assert.equal(big.status, 413);
    assert.equal((await api(url, 'GET', '/v1/users/cal/preferences', { token: await token('dee') })).status, 404);
  });

  it('records client events with address and user agent, and lists them newest first', async () => {
    const eli = await token('eli');
    const a = await api(url, 'POST', '/v1/users/me/activity', {
      token: eli,
      body: { type: 'page_view', data: { path: '/books' } },
      headers: { 'user-agent': 'test-agent/1.0' },
    });
    assert.equal(a.status, 201);
    await api(url, 'POST', '/v1/users/me/activity', { token: eli, body: { type: 'share' } });
    const bad = await api(url, 'POST', '/v1/users/me/activity', { token: eli, body: { type: 'ebook_requested' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'body.type');
    const huge = await api(url, 'POST', '/v1/users/me/activity', { token: eli, body: { type: 'download', data: { x: 'y'.repeat(5000) } } });
    assert.equal(huge.status, 400);
    assert.equal(huge.body.errors[0].field, 'body.data');
    assert.equal((await api(url, 'POST', '/v1/users/eli/activity', { token: await token('fay'), body: { type: 'share' } })).status, 404);

    const list = await api(url, 'GET', '/v1/users/me/activity?limit=10', { token: eli });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.items.map((i: { type: string }) => i.type), ['share', 'page_view']);
    assert.deepEqual(list.body.items[1].data, { path: '/books' });
    const profile = await stack.services.repos.profiles.getByClerkId('eli');
    const row = await stack.services.knex('user_activities').where({ user_id: profile!.id, activity_type: 'page_view' }).first();
    assert.equal(row.user_agent, 'test-agent/1.0');
    assert.match(String(row.ip_address), /127\.0\.0\.1/);
    assert.equal((await api(url, 'GET', '/v1/users/me/activity?limit=1', { token: eli })).body.items.length, 1);
    const badLimit = await api(url, 'GET', '/v1/users/me/activity?limit=0', { token: eli });
    assert.equal(badLimit.body.errors[0].field, 'query.limit');
  });

  it('sums a user’s books, words, images, stories, views and spend', async () => {
    const gil = await token('gil');
    const me = await api(url, 'GET', '/v1/users/me/profile', { token: gil });
    assert.equal(me.status, 200);
    const id = (await stack.services.repos.profiles.getByClerkId('gil'))!.id;
    const knex = stack.services.knex;
    await knex('memory_books').insert([
      {
        user_id: id,
        title: 'Done',
        status: 'completed',
        cover_image_key: 'covers/a.png',
        chapters: JSON.stringify([
          { index: 1, title: 'a', status: 'done', words: 1200, imageKey: 'i/1.png' },
          { index: 2, title: 'b', status: 'done', words: 800, imageKey: 'i/2.png' },
        ]),
        cost: JSON.stringify({ totalUsd: 0.25 }),
      },
      {
        user_id: id,
        title: 'Failed',
        status: 'failed',
        chapters: JSON.stringify([{ index: 1, title: 'a', status: 'written', words: 300 }]),
        cost: JSON.stringify({ text: { usd: 1 } }),
      },
    ]);
    await knex('stories').insert([
      { user_id: id, title: 's1', content: 'x', view_count: 4 },
      { user_id: id, title: 's2', content: 'y', view_count: 1 },
    ]);
    const a = await api(url, 'GET', '/v1/users/me/analytics', { token: gil });
    assert.equal(a.status, 200);
    assert.deepEqual(a.body, {
      userId: 'gil',
      books: { total: 2, byStatus: { completed: 1, failed: 1 } },
      wordsWritten: 2300,
      images: 3,
      stories: 2,
      storyViews: 5,
      spendUsd: 0.25,
    });
    assert.equal((await api(url, 'GET', '/v1/users/gil/analytics', { token: await token('hana') })).status, 404);
    assert.equal((await api(url, 'GET', '/v1/users/gil/analytics', { token: await token('root', 'admin') })).status, 200);
  });

  it('tells what a role and plan allow, and answers permission checks', async () => {
    const ina = await token('ina');
    const p = await api(url, 'GET', '/v1/auth/permissions/me', { token: ina });
    assert.equal(p.status, 200);
    assert.equal(p.body.role, 'user');
    assert.equal(p.body.tier, 'free');
    assert.deepEqual(p.body.permissions, { 'ebook:create': true, 'export:print': false, 'queue:priority': false, admin: false });
    assert.equal((await api(url, 'GET', '/v1/auth/permissions/ina', { token: await token('jay') })).status, 404);

    const print = await api(url, 'POST', '/v1/auth/permissions/check', { token: ina, body: { permission: 'export:print' } });
    assert.equal(print.status, 200);
    assert.equal(print.body.allowed, false);
    assert.match(print.body.reason, /Debut/);
    const bad = await api(url, 'POST', '/v1/auth/permissions/check', { token: ina, body: { permission: 'fly' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'body.permission');
    const other = await api(url, 'POST', '/v1/auth/permissions/check', { token: ina, body: { permission: 'admin', userId: 'root' } });
    assert.equal(other.status, 403);

    await stack.services.repos.profiles.setSubscription('ina', 'midnights');
    const admin = await token('root', 'admin');
    const forIna = await api(url, 'POST', '/v1/auth/permissions/check', { token: admin, body: { permission: 'queue:priority', userId: 'ina' } });
    assert.deepEqual([forIna.body.userId, forIna.body.allowed], ['ina', true]);
    const adminSelf = await api(url, 'POST', '/v1/auth/permissions/check', { token: admin, body: { permission: 'admin' } });
    assert.equal(adminSelf.body.allowed, true);
    const viaAdmin = await api(url, 'GET', '/v1/auth/permissions/ina', { token: admin });
    assert.equal(viaAdmin.body.tier, 'midnights');
    assert.equal(viaAdmin.body.permissions['export:print'], true);
    const nobody = await api(url, 'POST', '/v1/auth/permissions/check', { token: admin, body: { permission: 'admin', userId: 'nobody' } });
    assert.equal(nobody.status, 404);
  });

  it('returns the verified session', async () => {
    const s = await api(url, 'GET', '/v1/auth/session', { token: await token('kim', 'admin', 'sess_123') });
    assert.equal(s.status, 200);
    assert.deepEqual(s.body, { userId: 'kim', role: 'admin', sessionId: 'sess_123' });
    assert.equal((await api(url, 'GET', '/v1/auth/session')).status, 401);
  });
});
