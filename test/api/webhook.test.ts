/**
 * Clerk's user webhooks, signed with Svix exactly as Clerk signs them: valid,
 * tampered and stale signatures; create, update, delete; redeliveries.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'svix';
import { useTestStack } from '../helpers/stack';
import { eraseUserWorkflowId } from '../../workflows/shared';
import { api } from '../helpers/http';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;

describe('Clerk webhook', function () {
  const stack = useTestStack({ CLERK_WEBHOOK_SIGNING_SECRET: SECRET });
  let url: string;

  before(async () => {
    ({ url } = await stack.startApi());
    // user.deleted erases the user in a workflow.
    await stack.startWorker();
  });

  const deliver = (id: string, payload: object, opts: { when?: Date; tamper?: boolean; secret?: string } = {}) => {
    const body = JSON.stringify(payload);
    const when = opts.when ?? new Date();
    const signature = new Webhook(opts.secret ?? SECRET).sign(id, when, body);
    return api(url, 'POST', '/v1/auth/clerk/webhook', {
      raw: opts.tamper ? body.replace('Ada', 'Eve') : body,
      headers: {
        'svix-id': id,
        'svix-timestamp': String(Math.floor(when.getTime() / 1000)),
        'svix-signature': signature,
      },
    });
  };

  const user = (first: string) => ({
    type: 'user.created',
    object: 'event',
    data: {
      id: 'user_2abc',
      object: 'user',
      first_name: first,
      last_name: 'Lovelace',
      image_url: 'https://img.example/ada.png',
      primary_email_address_id: 'idn_1',
      email_addresses: [{ id: 'idn_1', email_address: 'ada@example.com' }],
    },
  });

  const profile = () => stack.services.repos.profiles.getByClerkId('user_2abc');

  it('creates a profile once for user.created, however often it is delivered', async () => {
    const first = await deliver('msg_1', user('Ada'));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const again = await deliver('msg_1', user('Ada'));
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    const p = await profile();
    assert.equal(p!.email, 'ada@example.com');
    assert.equal(p!.name, 'Ada Lovelace');
    const registered = await stack.services.knex('user_activities').where({ user_id: p!.id, activity_type: 'user_registered' });
    assert.equal(registered.length, 1);
  });

  it('refuses a tampered body, a wrong secret and a stale timestamp', async () => {
    const tampered = await deliver('msg_2', { ...user('Ada'), type: 'user.updated' }, { tamper: true });
    assert.equal(tampered.status, 400);
    assert.equal(tampered.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    const wrong = await deliver('msg_3', user('Ada'), { secret: `whsec_${randomBytes(24).toString('base64')}` });
    assert.equal(wrong.status, 400);
    const stale = await deliver('msg_4', user('Ada'), { when: new Date(Date.now() - 60 * 60 * 1000) });
    assert.equal(stale.status, 400);
    const missing = await api(url, 'POST', '/v1/auth/clerk/webhook', { body: user('Ada') });
    assert.equal(missing.status, 400);
  });

  it('updates on user.updated and deletes on user.deleted', async () => {
    const upd = await deliver('msg_5', { ...user('Augusta'), type: 'user.updated' });
    assert.equal(upd.status, 200);
    assert.equal((await profile())!.name, 'Augusta Lovelace');
    const del = await deliver('msg_6', { type: 'user.deleted', object: 'event', data: { id: 'user_2abc', deleted: true } });
    assert.equal(del.status, 200);
    await stack.client.workflow.getHandle(eraseUserWorkflowId('user_2abc')).result();
    assert.equal(await profile(), undefined);
  });
});
