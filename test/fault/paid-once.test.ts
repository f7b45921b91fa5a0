/**
 * A step paid for once even when a write after its ledger row fails (issue 20): the
 * chapter's and the illustration's activities call the provider, record the call, and
 * then their next write to PostgreSQL (the chapter marked written, the picture marked
 * done) fails once. Temporal retries each activity, and the retry reuses what the first
 * attempt was paid for (the text kept with its ledger row, the picture stored before its
 * row) instead of calling the provider again.
 *
 * How the write fails: a trigger in the test's database raises on the first update that
 * marks chapter 1 written, and on the first that marks it done (a sequence counts them:
 * nextval is not rolled back with the failed update).
 */
import assert from 'node:assert/strict';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { completedProviderSteps } from '../helpers/fault';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import { signSessionToken } from '../../lib/tokens';

const FAIL_ONCE = `
  CREATE SEQUENCE paid_once_written; CREATE SEQUENCE paid_once_done;
  CREATE FUNCTION paid_once_fault() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NEW.chapters->0->>'status' = 'written' AND OLD.chapters->0->>'status' IS DISTINCT FROM 'written'
       AND nextval('paid_once_written') = 1 THEN
      RAISE EXCEPTION 'paid-once test: marking the chapter written fails once';
    END IF;
    IF NEW.chapters->0->>'status' = 'done' AND OLD.chapters->0->>'status' IS DISTINCT FROM 'done'
       AND nextval('paid_once_done') = 1 THEN
      RAISE EXCEPTION 'paid-once test: marking the picture done fails once';
    END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER paid_once_fault BEFORE UPDATE OF chapters ON memory_books
    FOR EACH ROW EXECUTE FUNCTION paid_once_fault();`;

describe('fault: a write after the ledger row fails, and the retry does not pay again', function () {
  this.timeout(300_000);
  let openai: OpenAICompatServer;
  before(async () => {
    openai = await startOpenAICompatServer();
  });
  after(async () => {
    await openai?.close();
  });
  const stack = useTestStack(() => ({ ...providerEnv({ openai }), TEXT_PROVIDERS: 'openai', IMAGE_PROVIDERS: 'openai' }));
  let url: string;

  before(async () => {
    ({ url } = await stack.startApi());
    await stack.startWorker();
    await stack.services.knex.raw(FAIL_ONCE);
  });

  it('reuses the paid chapter text and picture on the retry', async () => {
    const { knex } = stack.services;
    const token = await signSessionToken(stack.devKeys, { userId: 'paid-once-user' });
    const created = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A ferryman who counts the stars', chapterCount: 1 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const { id, workflowId } = created.body as { id: string; workflowId: string };

    const end = await waitFor(
      'the book to finish',
      async () => {
        const s = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token });
        return ['completed', 'failed', 'cancelled'].includes(s.body.status) ? s.body : undefined;
      },
      240_000,
      500,
    );
    assert.equal(end.status, 'completed', JSON.stringify(end));

    // The fault happened: both writes failed once, and both steps completed on a later attempt.
    const { rows: counted } = await knex.raw(`SELECT last_value AS n FROM paid_once_written UNION ALL SELECT last_value FROM paid_once_done`);
    assert.deepEqual(counted.map((r: { n: string }) => Number(r.n) >= 2), [true, true], 'each faulty write was tried again');
    const steps = await completedProviderSteps(stack.client, workflowId);
    for (const step of ['chapter:1', 'illustration:1']) {
      const done = steps.find((s) => s.key === step);
      assert.ok(done && done.attempt >= 2, `${step} completed on a retry: ${JSON.stringify(steps)}`);
    }

    // The provider was asked once per step: one streamed chapter, one illustration and one cover.
    const chapterCalls = openai.callsTo('chat').filter((c) => c.body?.stream);
    assert.equal(chapterCalls.length, 1, 'one chapter call');
    assert.equal(openai.callsTo('images').length, 2, 'one illustration and one cover call');

    // One ledger row a step, the retried ones keeping what was paid for.
    const ledger = await knex('cost_ledger').where({ ebook_id: id }).orderBy('id');
    assert.deepEqual(ledger.map((r) => `${r.step}:${r.chapter_index ?? ''}`).sort(), ['chapter:1', 'cover:', 'illustration:1', 'outline:']);
    const chapterRow = ledger.find((r) => r.step === 'chapter');
    const pictureRow = ledger.find((r) => r.step === 'illustration');
    assert.match(chapterRow.idempotency_key, /:1:chapter:1$/, 'the chapter was paid on the first attempt');
    assert.match(pictureRow.idempotency_key, /:1:illustration:1$/, 'the picture was paid on the first attempt');

    // The book holds the text that was paid for, and readers were told to drop the first
    // attempt's stream and then got that same text again.
    const book = await stack.services.repos.ebooks.get(id);
    const chapter = (book!.chapters as Array<{ index: number; textKey: string; imageKey: string }>)[0];
    const stored = JSON.parse((await stack.services.storage.get(chapter.textKey)).toString('utf8'));
    assert.deepEqual(stored.paragraphs, chapterRow.result.value.paragraphs);
    assert.ok(stored.paragraphs.join(' ').length > 100);
    assert.equal(chapter.imageKey, pictureRow.result.value.key);
    assert.ok(await stack.services.storage.head(chapter.imageKey), 'the paid picture is stored');

    const events = await knex('ebook_events').where({ ebook_id: id }).whereIn('type', ['chapter.text', 'chapter.restart']).orderBy('id');
    const restart = events.findIndex((e) => e.type === 'chapter.restart');
    assert.ok(restart >= 0, 'a chapter.restart was published');
    const after = events.slice(restart + 1).filter((e) => e.type === 'chapter.text').map((e) => e.data.delta as string).join('');
    assert.equal(after, stored.paragraphs.join('\n\n'));
  });
});
