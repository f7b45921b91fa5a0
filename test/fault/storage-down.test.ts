/**
 * File storage unreachable under a running engine (issue 15): the S3-protocol
 * server (s3rver, in its own process) is stopped while a book is being written,
 * then started again on the same port with the same files. Meanwhile the book's
 * steps wait and fail with a retryable `StorageUnavailable` that Temporal retries
 * (STORAGE_WAIT_MS is short here, so attempts fail and are retried within the
 * test), its status says in words what it waits for, and the API answers the
 * files of a finished book with 503 + Retry-After, never 500. Once the server is
 * back the book completes with its files and the wait is cleared.
 */
import assert from 'node:assert/strict';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { startS3Server, type S3TestServer } from '../helpers/s3';
import { signSessionToken } from '../../lib/tokens';

describe('file storage unreachable under a running engine', function () {
  this.timeout(420_000);
  let s3: S3TestServer;
  before(async () => {
    s3 = await startS3Server();
  });
  const stack = useTestStack(() => ({
    ...s3.env,
    TEXT_PROVIDERS: 'offline',
    IMAGE_PROVIDERS: 'offline',
    OFFLINE_PROVIDER_DELAY_MS: '300',
    CHAPTER_CONCURRENCY: '2',
    // Short, so an attempt gives up during the test and Temporal's retry is seen.
    STORAGE_WAIT_MS: '1500',
    RATE_LIMIT_USER_PER_MINUTE: '100000',
  }));
  let url: string;
  let token: string;
  const answers: string[] = [];
  const call = async (method: string, p: string, body?: unknown) => {
    const r = await api(url, method, p, { token, body });
    answers.push(`${method} ${p} -> ${r.status}`);
    return r;
  };
  const createBook = async (prompt: string, chapterCount: number) => {
    const r = await call('POST', '/v1/ebooks', { prompt, chapterCount });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return { id: r.body.id as string, workflowId: r.body.workflowId as string };
  };
  const statusOf = async (id: string) => (await call('GET', `/v1/ebooks/${id}/status`)).body;
  const completed = (id: string, timeoutMs: number) =>
    waitFor(`book ${id} to end`, async () => {
      const st = await statusOf(id);
      return ['completed', 'failed', 'cancelled'].includes(st.status) && st;
    }, timeoutMs, 500);

  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
    await stack.services.repos.profiles.ensure({ clerkUserId: 'storage-down-owner' });
    await stack.services.repos.profiles.setSubscription('storage-down-owner', 'midnights');
    token = await signSessionToken(stack.devKeys, { userId: 'storage-down-owner' });
  });

  let finished: string;
  let book: { id: string; workflowId: string };

  it('makes a book with the store up', async () => {
    assert.equal(stack.services.storage.kind, 's3');
    finished = (await createBook('A lighthouse keeper and a clockwork gull', 1)).id;
    const st = await completed(finished, 120_000);
    assert.equal(st.status, 'completed', JSON.stringify(st.error));
    assert.equal(st.waitingFor, null);
  });

  it('with the store stopped mid-book: the status says what the book waits for, Temporal retries, the API answers 503', async () => {
    book = await createBook('A cartographer of clouds and a stubborn kite', 3);
    // In the middle: the outline is stored and the chapters are being written.
    await waitFor('the chapters to start', async () => (await statusOf(book.id)).stage === 'chapters', 120_000, 200);
    await s3.pause();

    const waiting = await waitFor('the status to name what the book waits for', async () => {
      const st = await statusOf(book.id);
      return st.waitingFor && st;
    }, 60_000, 250);
    assert.equal(waiting.status, 'running');
    assert.equal(waiting.waitingFor.dependency, 'storage');
    assert.match(waiting.waitingFor.message, /^waiting for file storage \(unreachable: ECONNREFUSED\); \w+ is retried until it answers$/);
    assert.ok(!Number.isNaN(Date.parse(waiting.waitingFor.since)));
    // The owner's status never carries the store's address.
    assert.doesNotMatch(JSON.stringify(waiting.waitingFor), /127\.0\.0\.1|http/);

    // Temporal retries the step that gave up waiting: a pending activity on attempt 2+, failed as StorageUnavailable.
    const handle = stack.client.workflow.getHandle(book.workflowId);
    const retried = await waitFor('an activity retried by Temporal', async () => {
      const d = await handle.describe();
      return (d.raw.pendingActivities ?? []).find((a) => (a.attempt ?? 1) > 1 && a.lastFailure?.applicationFailureInfo?.type === 'StorageUnavailable');
    }, 60_000, 500);
    assert.match(retried.lastFailure!.message ?? '', /file storage is unreachable \(ECONNREFUSED\)/);
    assert.equal(retried.lastFailure!.applicationFailureInfo!.nonRetryable ?? false, false);

    // The API: a finished book's files and text are a 503 with Retry-After; its status reads the row.
    for (const p of [`/v1/ebooks/${finished}/files/pdf`, `/v1/ebooks/${finished}/files/epub`, `/v1/ebooks/${finished}`]) {
      const r = await call('GET', p);
      assert.equal(r.status, 503, `${p}: ${JSON.stringify(r.body)}`);
      assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.equal(r.headers.get('retry-after'), '5');
      assert.match(r.body.detail, /storage is unreachable/);
    }
    assert.equal((await call('GET', `/v1/ebooks/${finished}/status`)).status, 200);
    const ready = await call('GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.notEqual(ready.body.checks.storage, 'ok');
    assert.equal((await statusOf(book.id)).status, 'running', 'the book is still running');
  });

  it('with the store back: the book completes with its files and waits for nothing', async () => {
    await s3.resume();
    const st = await completed(book.id, 300_000);
    assert.equal(st.status, 'completed', JSON.stringify(st.error));
    assert.equal(st.waitingFor, null);
    const row = await stack.services.knex('memory_books').where({ id: book.id }).first('waiting_for');
    assert.equal(row.waiting_for, null);
    for (const id of [book.id, finished]) {
      for (const kind of ['pdf', 'epub']) {
        // S3 answers with a redirect to a signed URL, which fetch follows to the store.
        const res = await fetch(`${url}/v1/ebooks/${id}/files/${kind}`, { headers: { authorization: `Bearer ${token}` } });
        answers.push(`GET /v1/ebooks/${id}/files/${kind} -> ${res.status}`);
        assert.equal(res.status, 200, `${id} ${kind}`);
        const magic = kind === 'pdf' ? '%PDF-' : 'PK';
        assert.equal(Buffer.from(await res.arrayBuffer()).subarray(0, magic.length).toString('latin1'), magic);
      }
    }
    const full = await call('GET', `/v1/ebooks/${book.id}`);
    assert.equal(full.status, 200);
    assert.equal(full.body.chapters.length, 3);
    assert.ok(full.body.chapters.every((c: { paragraphs: string[] }) => c.paragraphs.length > 0));
    assert.ok((await s3.list(`ebooks/${book.id}/`)).length > 0, 'the book’s objects are in the bucket');
  });

  it('answered no request with a 500', () => {
    assert.deepEqual(answers.filter((a) => / -> 500$/.test(a)), []);
  });
});
