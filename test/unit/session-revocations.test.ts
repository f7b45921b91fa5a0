/**
 * The revocation check every request makes: a "not revoked" answer is kept only
 * briefly (another process may revoke the session), a "revoked" one for good,
 * and concurrent requests of one session share one lookup.
 */
import assert from 'node:assert/strict';
import { createRevocations } from '../../api/session-revocations';

function fakeSessions() {
  const revoked = new Set<string>();
  let lookups = 0;
  return {
    revoked,
    lookups: () => lookups,
    repos: {
      sessions: {
        async isRevoked(id: string, userId: string) {
          lookups++;
          await new Promise((r) => setTimeout(r, 5));
          return revoked.has(`${userId}/${id}`);
        },
      },
    } as never,
  };
}

describe('session revocations cache', () => {
  it('sees a revocation made elsewhere once its short cache expires', async () => {
    const db = fakeSessions();
    const r = createRevocations(db.repos, { ttlMs: 50 });
    assert.equal(await r.isRevoked('s1', 'u1'), false);
    db.revoked.add('u1/s1'); // another process revoked it
    assert.equal(await r.isRevoked('s1', 'u1'), false, 'still the cached answer');
    await new Promise((res) => setTimeout(res, 80));
    assert.equal(await r.isRevoked('s1', 'u1'), true);
    db.revoked.delete('u1/s1');
    assert.equal(await r.isRevoked('s1', 'u1'), true, 'a revoked session stays revoked');
  });

  it('knows its own revocations at once, per user, and shares concurrent lookups', async () => {
    const db = fakeSessions();
    const r = createRevocations(db.repos, { ttlMs: 60_000 });
    assert.equal(await r.isRevoked('s2', 'u2'), false);
    r.markRevoked('s2', 'u2');
    assert.equal(await r.isRevoked('s2', 'u2'), true);
    assert.equal(await r.isRevoked('s2', 'someone-else'), false, 'the same id of another user is another session');
    const before = db.lookups();
    await Promise.all([r.isRevoked('s3', 'u3'), r.isRevoked('s3', 'u3'), r.isRevoked('s3', 'u3')]);
    assert.equal(db.lookups() - before, 1);
  });
});
