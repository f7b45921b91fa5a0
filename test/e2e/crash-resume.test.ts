/**
 * Resume after a crash: the worker runs as its own process (`workers/main.ts`,
 * what `npm run worker` runs), is SIGKILLed in the middle of a book, and a new
 * one finishes it without re-running any step that had completed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { useTestStack } from '../helpers/stack';
import { api, waitFor } from '../helpers/http';
import { signSessionToken } from '../../lib/tokens';

const ROOT = path.resolve(__dirname, '..', '..');

describe('crash and resume', function () {
  const stack = useTestStack();
  let url: string;
  const workers: ChildProcess[] = [];

  before(async () => {
    ({ url } = await stack.startApi());
    stack.defer(() => {
      for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    });
  });

  const startWorkerProcess = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATA_DIR: stack.dataDir,
        DATABASE_URL: stack.databaseUrl,
        TEMPORAL_ADDRESS: stack.env.address,
        TEMPORAL_TASK_QUEUE: stack.taskQueue,
        OFFLINE_PROVIDER_DELAY_MS: '600',
        CHAPTER_CONCURRENCY: '2',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    workers.push(child);
    return child;
  };

  /** Completed activities in history, as "type:index" (index only for per-chapter steps). */
  const completedSteps = async (workflowId: string): Promise<string[]> => {
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = new Map<string, string>();
    const done: string[] = [];
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) {
        const input = defaultPayloadConverter.fromPayload<{ index?: number }>(s.input!.payloads![0]);
        scheduled.set(String(e.eventId), stepName(s.activityType!.name!, input.index));
      }
      const c = e.activityTaskCompletedEventAttributes;
      if (c) done.push(scheduled.get(String(c.scheduledEventId))!);
    }
    return done;
  };

  it('finishes the book after a SIGKILL and repeats no completed step', async () => {
    const token = await signSessionToken(stack.devKeys, { userId: 'dave' });
    const first = startWorkerProcess();
    const created = await api(url, 'POST', '/v1/ebooks', {
      token,
      body: { prompt: 'A cartographer maps a city that rearranges itself at night', chapterCount: 6 },
    });
    assert.equal(created.status, 202);
    const { id, workflowId } = created.body;

    // Kill once the outline and a couple of chapters are done, with more in flight.
    await waitFor(
      'some completed chapters',
      async () => (await completedSteps(workflowId)).filter((s) => s.startsWith('writeChapter')).length >= 2,
      120_000,
      100,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const beforeKill = await completedSteps(workflowId);
    const status = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token });
    assert.equal(status.body.status, 'running', 'the book is mid-way when the worker dies');

    startWorkerProcess();
    const final = await waitFor(
      'the book to complete on the new worker',
      async () => {
        const s = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token });
        if (s.body.status === 'failed') assert.fail(JSON.stringify(s.body.error));
        return s.body.status === 'completed' && s.body;
      },
      180_000,
    );
    assert.equal(final.progress, 1);

    // Provider invocations, as the activities recorded them.
    const calls = await stack.services.knex('ebook_events').where({ ebook_id: id, type: 'provider.call' });
    const invocations = new Map<string, number>();
    for (const c of calls) {
      const d = c.data as { step: string; index?: number };
      const key = stepName(providerStepToActivity(d.step), d.index);
      invocations.set(key, (invocations.get(key) ?? 0) + 1);
    }
    const providerSteps = beforeKill.filter((s) => /^(writeOutline|writeChapter|drawIllustration|drawCover)/.test(s));
    assert.ok(providerSteps.length >= 3, `steps completed before the kill: ${beforeKill.join(', ')}`);
    assert.ok(providerSteps.length < 13, 'some steps were left for the second worker');
    for (const step of providerSteps) {
      assert.equal(invocations.get(step), 1, `${step} completed before the crash and was not run again`);
    }
    // Every step of the book ran at least once.
    assert.equal(invocations.get('writeOutline'), 1);
    for (let i = 1; i <= 6; i++) {
      assert.ok((invocations.get(`writeChapter:${i}`) ?? 0) >= 1, `chapter ${i} was written`);
      assert.ok((invocations.get(`drawIllustration:${i}`) ?? 0) >= 1, `chapter ${i} was illustrated`);
    }
    const after = await completedSteps(workflowId);
    for (const step of beforeKill) {
      assert.equal(after.filter((s) => s === step).length, 1, `${step} completed once in history`);
    }
  });
});

function stepName(activity: string, index?: number): string {
  return index === undefined ? activity : `${activity}:${index}`;
}

function providerStepToActivity(step: string): string {
  return (
    { outline: 'writeOutline', chapter: 'writeChapter', illustration: 'drawIllustration', cover: 'drawCover' }[step] ??
    step
  );
}
