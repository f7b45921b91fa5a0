import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createStatusCache } from '../../api/status-cache';

const BOOK = '6f1c1f9e-3a57-4c1e-9a43-0d2b7e1c5a10';
const OTHER_BOOK = '0b7c2d4e-8f1a-4b3c-9d5e-6a7b8c9d0e1f';

describe('status cache', () => {
  it('answers its owner for 75-100% of ttlMs (spread so entries made together expire apart), then nothing', () => {
    let t = 1_000;
    const cache = createStatusCache({ ttlMs: 1000, now: () => t });
    const sent = cache.set(BOOK, 'user_a', { status: 'running', progress: 0.25 });
    assert.equal(sent.body, JSON.stringify({ status: 'running', progress: 0.25 }));
    assert.match(sent.etag, /^W\/"[\w-]+"$/);
    t += 749;
    const hit = cache.get(BOOK, 'user_a');
    assert.equal(hit?.body, sent.body);
    assert.equal(hit?.etag, sent.etag);
    t += 251;
    assert.equal(cache.get(BOOK, 'user_a'), undefined, 'expired');
    assert.equal(cache.size, 0, 'an expired entry is dropped when met');
  });

  it('polls that miss together share one load; a load that fails caches nothing', async () => {
    const cache = createStatusCache({ now: () => 0 });
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const load = async () => {
      loads++;
      await gate;
      return { id: BOOK, doc: { n: loads } };
    };
    const answers = Promise.all([cache.load(BOOK, 'u', load), cache.load(BOOK, 'u', load), cache.load(BOOK, 'u', load)]);
    release();
    const [a, b, c] = await answers;
    assert.equal(loads, 1);
    assert.equal(a.body, '{"n":1}');
    assert.deepEqual([b.body, c.body], [a.body, a.body]);
    assert.equal((await cache.load(BOOK, 'u', load)).body, '{"n":1}', 'then served from the cache');
    assert.equal(loads, 1);

    const failing = async (): Promise<{ id: string; doc: unknown }> => {
      throw new Error('not yours');
    };
    await assert.rejects(cache.load(OTHER_BOOK, 'u', failing), /not yours/);
    assert.equal(cache.get(OTHER_BOOK, 'u'), undefined);
  });

  it('a load that was reading while the book changed answers its poll but is not kept', async () => {
    const cache = createStatusCache({ now: () => 0 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const stale = cache.load(BOOK, 'u', async () => {
      await gate;
      return { id: BOOK, doc: { title: 'before the change' } };
    });
    cache.delete(BOOK); // the change
    release();
    assert.equal((await stale).body, '{"title":"before the change"}');
    assert.equal(cache.get(BOOK, 'u'), undefined);
    const fresh = await cache.load(BOOK, 'u', async () => ({ id: BOOK, doc: { title: 'after' } }));
    assert.equal(fresh.body, '{"title":"after"}');
    assert.equal(cache.get(BOOK, 'u')?.body, '{"title":"after"}');
  });

  it('never answers another user, whatever the book id looks like', () => {
    const cache = createStatusCache({ now: () => 0 });
    cache.set(BOOK, 'user_a', { status: 'running' });
    assert.equal(cache.get(BOOK, 'user_b'), undefined);
    assert.ok(cache.get(BOOK.toUpperCase(), 'user_a'), 'ids are case-insensitive, as in the database');
  });

  it('different documents have different ETags, equal ones the same', () => {
    const cache = createStatusCache({ ttlMs: 0 });
    const a = cache.set(BOOK, 'u', { progress: 0.5 });
    const b = cache.set(BOOK, 'u', { progress: 0.6 });
    const c = cache.set(BOOK, 'u', { progress: 0.5 });
    assert.notEqual(a.etag, b.etag);
    assert.equal(a.etag, c.etag);
    assert.equal(cache.size, 0, 'ttlMs 0 keeps nothing');
  });

  it('keeps at most maxEntries, dropping the least recently stored', () => {
    const cache = createStatusCache({ maxEntries: 2, now: () => 0 });
    const ids = [BOOK, OTHER_BOOK, '11111111-2222-4333-8444-555555555555'];
    for (const id of ids) cache.set(id, 'u', { id });
    assert.equal(cache.size, 2);
    assert.equal(cache.get(ids[0], 'u'), undefined);
    assert.ok(cache.get(ids[1], 'u'));
    assert.ok(cache.get(ids[2], 'u'));
  });

  it('a non-GET request under /ebooks/{id} drops that book before and after it runs; GETs and other books keep theirs', async () => {
    const cache = createStatusCache({ now: () => 0 });
    const app = express();
    const seenDuring: Array<boolean> = [];
    app.use(cache.invalidateOnChange);
    app.all(/.*/, (req, res) => {
      seenDuring.push(Boolean(cache.get(BOOK, 'u')));
      // What the route does: the row changes, and a poll meanwhile caches it again.
      cache.set(BOOK, 'u', { during: req.method });
      res.status(204).end();
    });
    const server = await new Promise<http.Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      cache.set(BOOK, 'u', { before: true });
      cache.set(OTHER_BOOK, 'u', { before: true });
      await fetch(`${url}/ebooks/${BOOK}/status`);
      assert.deepEqual(seenDuring, [true], 'a GET leaves the entry');
      await fetch(`${url}/ebooks/${BOOK}/cancel`, { method: 'POST' });
      assert.equal(seenDuring[1], false, 'dropped before the change runs');
      assert.equal(cache.get(BOOK, 'u'), undefined, 'and after it, so no poll during it is kept');
      assert.ok(cache.get(OTHER_BOOK, 'u'), 'another book is untouched');
      cache.set(BOOK, 'u', { again: true });
      await fetch(`${url}/ebooks/${BOOK.toUpperCase()}`, { method: 'DELETE' });
      assert.equal(cache.get(BOOK, 'u'), undefined, 'whatever the case of the id in the path');
    } finally {
      server.close();
    }
  });
});
