/**
 * The worker's Prometheus endpoint (WORKER_METRICS_PORT) on a real worker
 * process: one book through it, text and pictures from the local OpenAI-protocol
 * server, then a scrape shows the engine's counters moved (books, chapters,
 * images, provider latency and spend by provider) next to the Temporal runtime's
 * own worker metrics.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { EBOOK_ID_ATTRIBUTE, EBOOK_WORKFLOW_TYPE, ebookWorkflowId, USER_ID_ATTRIBUTE } from '../../workflows/shared';
import type { ebookWorkflow } from '../../workflows/ebook';
import { parseMetricsPort } from '../../lib/worker-metrics';
import { useTestStack } from '../helpers/stack';
import { freePort } from '../helpers/postgres';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import { spawnEngineProcess, type EngineProcess } from '../helpers/process';

/** The value of one sample line (`name{labels} value`), summed over every line whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ?? '';
    if (!Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) continue;
    total = (total ?? 0) + Number(m[3]);
  }
  return total;
}

describe('ops: worker metrics endpoint', function () {
  this.timeout(240_000);
  const stack = useTestStack();
  let openai: OpenAICompatServer;
  let worker: EngineProcess | undefined;
  let port: number;

  before(async () => {
    openai = await startOpenAICompatServer();
    stack.defer(() => openai?.close());
    port = await freePort();
    worker = spawnEngineProcess(stack, 'workers/main.ts', {
      WORKER_METRICS_PORT: String(port),
      ...providerEnv({ openai }),
      TEXT_PROVIDERS: 'openai',
      IMAGE_PROVIDERS: 'openai',
    });
    stack.defer(() => worker?.stop());
    // Up when the endpoint answers.
    await worker.waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok);
  });

  it('parses WORKER_METRICS_PORT and names it when wrong', () => {
    assert.equal(parseMetricsPort(undefined), undefined);
    assert.equal(parseMetricsPort(''), undefined);
    assert.equal(parseMetricsPort('9464'), 9464);
    assert.equal(parseMetricsPort('0'), 0);
    assert.throws(() => parseMetricsPort('nine'), /WORKER_METRICS_PORT/);
    assert.throws(() => parseMetricsPort('70000'), /WORKER_METRICS_PORT/);
  });

  it('counts a book, its chapters, pictures, provider latency and spend, next to Temporal’s worker metrics', async () => {
    const before = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.equal(sample(before, 'ebook_books_completed_total'), 0);

    const clerkUserId = `metrics-user-${Date.now()}`;
    const profile = await stack.services.repos.profiles.ensure({ clerkUserId });
    const id = randomUUID();
    const brief = { prompt: 'A lighthouse keeper counts the gulls', chapterCount: 2 };
    await stack.services.repos.ebooks.create({
      id,
      userId: profile.id,
      workflowId: ebookWorkflowId(id),
      prompt: brief.prompt,
      title: 'Untitled book',
      generationSettings: brief,
    });
    const handle = await stack.client.workflow.start<typeof ebookWorkflow>(EBOOK_WORKFLOW_TYPE, {
      workflowId: ebookWorkflowId(id),
      taskQueue: stack.taskQueue,
      args: [{ ebookId: id, profileId: profile.id, userId: clerkUserId, brief }],
      typedSearchAttributes: [
        { key: EBOOK_ID_ATTRIBUTE, value: id },
        { key: USER_ID_ATTRIBUTE, value: clerkUserId },
      ],
    });
    await handle.result();

    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.equal(sample(text, 'ebook_books_started_total'), 1);
    assert.equal(sample(text, 'ebook_books_completed_total'), 1);
    assert.equal(sample(text, 'ebook_chapters_written_total', { provider: 'openai' }), 2);
    assert.equal(sample(text, 'ebook_images_drawn_total', { kind: 'illustration', provider: 'openai' }), 2);
    assert.equal(sample(text, 'ebook_images_drawn_total', { kind: 'cover', provider: 'openai' }), 1);
    // Outline + 2 chapters + 2 illustrations + cover: six timed calls, all by openai.
    assert.equal(sample(text, 'ebook_provider_call_duration_seconds_count', { provider: 'openai', outcome: 'ok' }), 6);
    assert.equal(sample(text, 'ebook_provider_call_duration_seconds_count', { step: 'chapter', provider: 'openai' }), 2);
    assert.ok((sample(text, 'ebook_provider_call_duration_seconds_sum', { provider: 'openai' }) ?? 0) > 0);
    assert.equal(sample(text, 'ebook_provider_calls_total', { provider: 'openai' }), 6);
    // The spend counter agrees with the cost ledger's total for the book.
    const ledger = await stack.services.knex('cost_ledger').where({ ebook_id: id }).sum<{ sum: string }[]>('cost_usd as sum');
    const spend = sample(text, 'ebook_provider_spend_usd_total', { provider: 'openai' }) ?? 0;
    assert.ok(spend > 0, `spend ${spend}`);
    assert.ok(Math.abs(spend - Number(ledger[0].sum)) < 1e-6, `metric ${spend} vs ledger ${ledger[0].sum}`);
    // Node's own process metrics and the Temporal runtime's worker metrics, on the same endpoint.
    assert.ok(sample(text, 'process_cpu_user_seconds_total') !== undefined, 'process metrics');
    assert.match(text, /^temporal_worker_task_slots_available\{[^}]*task_queue="[^"]+"/m);
    assert.match(text, /^temporal_worker_task_slots_available\{[^}]*worker_type="ActivityWorker"/m);
    assert.match(text, /^temporal_activity_schedule_to_start_latency_count\{/m);
    assert.match(text, /^temporal_workflow_task_schedule_to_start_latency_count\{/m);
    assert.match(text, /^temporal_activity_execution_latency(_seconds)?_count\{[^}]*activity_type="writeChapter"/m);
  });
});
