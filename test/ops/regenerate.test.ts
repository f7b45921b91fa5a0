/**
 * scripts/regenerate.ts against the real stack: two finished books, then the
 * script as a child process (as an operator runs it): a dry run starts nothing,
 * a run regenerates both (file version 2), the same run again starts nothing,
 * and bad flags exit 2 naming the flag. Then the recurring form: a Temporal
 * Schedule created (and updated) by the script, triggered, its batch run
 * re-running both books as child workflows, the same label again starting
 * nothing, and the schedule deleted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ScheduleNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import {
  EBOOK_ID_ATTRIBUTE,
  EBOOK_WORKFLOW_TYPE,
  ebookWorkflowId,
  STAGE_ATTRIBUTE,
  USER_ID_ATTRIBUTE,
  type EbookWorkflowInput,
} from '../../workflows/shared';
import type { ebookWorkflow } from '../../workflows/ebook';
import { parseFlags, FlagError, regenWorkflowId, defaultRunLabel } from '../../scripts/regenerate';
import {
  BATCH_REGENERATE_WORKFLOW_TYPE,
  type BatchRegenerateInput,
  type BatchRegenerateResult,
} from '../../workflows/batch-shared';
import { useTestStack, type TestStack } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'regenerate.ts');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runScript(stack: TestStack, args: string[]): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Only the stack's services: nothing inherited may point the script elsewhere.
  for (const k of Object.keys(env)) if (/^(TEMPORAL_|DATABASE_URL|S3_|REDIS_URL)/.test(k)) delete env[k];
  Object.assign(env, {
    DATA_DIR: stack.dataDir,
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.env.address,
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    LOG_LEVEL: 'warn',
  });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('ops: npm run regenerate', function () {
  this.timeout(240_000);
  const stack = useTestStack();
  const user = `regen-user-${Date.now()}`;
  const ids: string[] = [];
  let otherId: string;

  async function createBook(clerkUserId: string, brief: EbookWorkflowInput['brief']): Promise<string> {
    const profile = await stack.services.repos.profiles.ensure({ clerkUserId });
    const id = randomUUID();
    const workflowId = ebookWorkflowId(id);
    // As POST /v1/ebooks does: the row, then the workflow.
    await stack.services.repos.ebooks.create({
      id,
      userId: profile.id,
      workflowId,
      prompt: brief.prompt,
      title: 'Untitled book',
      generationSettings: brief,
      stylePreferences: { era: brief.era, style: brief.style },
    });
    await stack.client.workflow.start<typeof ebookWorkflow>(EBOOK_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: stack.taskQueue,
      args: [{ ebookId: id, profileId: profile.id, userId: clerkUserId, brief }],
      typedSearchAttributes: [
        { key: EBOOK_ID_ATTRIBUTE, value: id },
        { key: USER_ID_ATTRIBUTE, value: clerkUserId },
        { key: STAGE_ATTRIBUTE, value: 'queued' },
      ],
    });
    return id;
  }

  before(async () => {
    await stack.startWorker();
    ids.push(
      await createBook(user, { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2, style: 'watercolor' }),
      await createBook(user, { prompt: 'A fox learns to read the stars', chapterCount: 1, style: 'watercolor' }),
    );
    otherId = await createBook(`${user}-other`, { prompt: 'Someone else’s book', chapterCount: 1 });
    for (const id of [...ids, otherId]) await stack.client.workflow.getHandle(ebookWorkflowId(id)).result();
    for (const id of ids) {
      const book = await stack.services.repos.ebooks.get(id);
      assert.equal(book?.status, 'completed');
      assert.equal(book?.fileVersion, 1);
    }
  });

  async function regenExists(run: string, id: string): Promise<boolean> {
    try {
      await stack.client.workflow.getHandle(regenWorkflowId(run, id)).describe();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  it('parses flags and names the bad one', () => {
    const now = new Date('2025-03-04T10:00:00Z');
    const f = parseFlags(['--status', 'failed,completed', '--since', '2025-01-01', '--limit', '5', '--dry-run'], now);
    assert.ok(f !== 'help');
    assert.deepEqual(f.statuses, ['failed', 'completed']);
    assert.equal(f.since?.toISOString(), '2025-01-01T00:00:00.000Z');
    assert.equal(f.limit, 5);
    assert.equal(f.run, '20250304');
    assert.equal(f.concurrency, 4);
    assert.equal(f.dryRun, true);
    assert.equal(defaultRunLabel(now), '20250304');
    const flagOf = (argv: string[]) => {
      try {
        parseFlags(argv, now);
      } catch (err) {
        assert.ok(err instanceof FlagError, String(err));
        return err.flag;
      }
      return undefined;
    };
    assert.equal(flagOf(['--status', 'running']), '--status');
    assert.equal(flagOf(['--concurrency', '0']), '--concurrency');
    assert.equal(flagOf(['--limit', 'many']), '--limit');
    assert.equal(flagOf(['--run', 'no spaces']), '--run');
    assert.equal(flagOf(['--since', '2025-02-01', '--until', '2025-01-01']), '--until');
    assert.equal(flagOf(['--nope']), '--nope');
  });

  it('a bad flag exits 2 with a message naming it, and starts nothing', async () => {
    const bad = await runScript(stack, ['--user', user, '--frobnicate']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--frobnicate/);
    const badDate = await runScript(stack, ['--since', 'last tuesday']);
    assert.equal(badDate.code, 2);
    assert.match(badDate.stderr, /--since/);
  });

  it('--dry-run lists the selection and starts nothing', async () => {
    const r = await runScript(stack, ['--user', user, '--run', 't1', '--dry-run']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const id of ids) assert.match(r.stdout, new RegExp(`would start regen-t1-${id}`));
    assert.doesNotMatch(r.stdout, new RegExp(otherId), 'another user’s book is not selected');
    assert.match(r.stdout, /would start 2, skip 0; started nothing/);
    for (const id of ids) {
      assert.equal(await regenExists('t1', id), false);
      const book = await stack.services.repos.ebooks.get(id);
      assert.equal(book?.status, 'completed');
      assert.equal(book?.fileVersion, 1);
    }
  });

  it('filters select nothing when nothing matches', async () => {
    const r = await runScript(stack, ['--user', user, '--style', 'oil-on-velvet', '--run', 't1', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /0 book\(s\) selected/);
    const byProvider = await runScript(stack, ['--user', user, '--provider', 'offline', '--style', 'watercolor', '--dry-run']);
    assert.equal(byProvider.code, 0, byProvider.stderr);
    assert.match(byProvider.stdout, /2 book\(s\) selected/);
  });

  it('regenerates every selected book into a new file version', async () => {
    const r = await runScript(stack, ['--user', user, '--run', 't1', '--concurrency', '2']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /summary: run "t1": 2 selected, 2 completed, 0 failed, 0 skipped/);
    for (const id of ids) {
      assert.match(r.stdout, new RegExp(`completed ${id} \\(file version 2\\)`));
      const book = await stack.services.repos.ebooks.get(id);
      assert.equal(book?.status, 'completed');
      assert.equal(book?.fileVersion, 2);
      assert.equal(book?.workflowId, regenWorkflowId('t1', id));
      assert.match(book!.pdfKey!, /\/v2\//);
      const d = await stack.client.workflow.getHandle(regenWorkflowId('t1', id)).describe();
      assert.equal(d.status.name, 'COMPLETED');
    }
    const other = await stack.services.repos.ebooks.get(otherId);
    assert.equal(other?.fileVersion, 1, 'the unselected book is untouched');
  });

  it('the same run again starts nothing and says skipped', async () => {
    const r = await runScript(stack, ['--user', user, '--run', 't1']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const id of ids) assert.match(r.stdout, new RegExp(`skipped   ${id}: already done`));
    assert.match(r.stdout, /2 selected, 0 completed, 0 failed, 2 skipped/);
    for (const id of ids) {
      const book = await stack.services.repos.ebooks.get(id);
      assert.equal(book?.fileVersion, 2);
      assert.equal(book?.status, 'completed');
    }
    const dry = await runScript(stack, ['--user', user, '--run', 't1', '--dry-run']);
    assert.match(dry.stdout, /would start 0, skip 2/);
  });

  describe('--schedule', () => {
    const scheduleId = `nightly-${Date.now()}`;

    it('checks the schedule flags', () => {
      const flagOf = (argv: string[]) => {
        try {
          parseFlags(argv);
        } catch (err) {
          assert.ok(err instanceof FlagError, String(err));
          return err.flag;
        }
        return undefined;
      };
      assert.equal(flagOf(['--schedule', '0 3 * * *']), '--schedule-id');
      assert.equal(flagOf(['--schedule', 'every night', '--schedule-id', 'x']), '--schedule');
      assert.equal(flagOf(['--schedule', '0 3 * * *', '--schedule-id', 'x', '--run', 'r']), '--run');
      assert.equal(flagOf(['--schedule-id', 'x']), '--schedule-id');
      assert.equal(flagOf(['--schedule', '@daily', '--schedule-id', 'x', '--unschedule', 'x']), '--unschedule');
      const f = parseFlags(['--schedule', '0 3 * * *', '--schedule-id', 'nightly', '--status', 'failed']);
      assert.ok(f !== 'help');
      assert.deepEqual(f.schedule, { cron: '0 3 * * *', id: 'nightly' });
      assert.deepEqual(f.statuses, ['failed']);
    });

    it('creates, updates and lists a schedule', async () => {
      const created = await runScript(stack, ['--schedule', '0 3 * * *', '--schedule-id', scheduleId, '--user', user, '--concurrency', '2']);
      assert.equal(created.code, 0, created.stderr + created.stdout);
      assert.match(created.stdout, new RegExp(`schedule ${scheduleId} created: cron "0 3 \\* \\* \\*"`));
      const updated = await runScript(stack, ['--schedule', '30 4 * * *', '--schedule-id', scheduleId, '--user', user, '--concurrency', '2']);
      assert.equal(updated.code, 0, updated.stderr + updated.stdout);
      assert.match(updated.stdout, new RegExp(`schedule ${scheduleId} updated: cron "30 4 \\* \\* \\*"`));
      const d = await stack.client.schedule.getHandle(scheduleId).describe();
      assert.equal(d.action.type, 'startWorkflow');
      assert.equal(d.action.type === 'startWorkflow' && d.action.workflowType, BATCH_REGENERATE_WORKFLOW_TYPE);
      assert.ok(d.info.nextActionTimes.every((t) => t.getUTCHours() === 4 && t.getUTCMinutes() === 30), 'the updated cron');
      const listed = await runScript(stack, ['--list-schedules']);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^${scheduleId}  active  next \\S+T04:30:00`, 'm'));
    });

    it('a triggered run re-runs the selection as child workflows, and its label never runs a book twice', async () => {
      const handle = stack.client.schedule.getHandle(scheduleId);
      await handle.trigger();
      let batchId: string | undefined;
      const deadline = Date.now() + 60_000;
      while (!batchId && Date.now() < deadline) {
        batchId = (await handle.describe()).info.recentActions.at(-1)?.action.workflow.workflowId;
        if (!batchId) await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(batchId, 'the schedule started a batch run');
      const batch = stack.client.workflow.getHandle(batchId);
      const result = (await batch.result()) as BatchRegenerateResult;
      assert.match(result.run, new RegExp(`^${scheduleId}-\\d{8}T\\d{6}Z$`));
      assert.deepEqual(
        { selected: result.selected, completed: result.completed, failed: result.failed, skipped: result.skipped },
        { selected: 2, completed: 2, failed: 0, skipped: 0 },
        result.failures.join('\n'),
      );
      for (const id of ids) {
        const child = await stack.client.workflow.getHandle(regenWorkflowId(result.run, id)).describe();
        assert.equal(child.status.name, 'COMPLETED');
        assert.equal(child.parentExecution?.workflowId, batchId, 'a child of the batch run');
        const book = await stack.services.repos.ebooks.get(id);
        assert.equal(book?.status, 'completed');
        assert.equal(book?.fileVersion, 3);
        assert.equal(book?.workflowId, regenWorkflowId(result.run, id));
      }
      const other = await stack.services.repos.ebooks.get(otherId);
      assert.equal(other?.fileVersion, 1, 'the unselected book is untouched');

      // The same label again (a retried or repeated run): nothing starts.
      const action = (await handle.describe()).action;
      assert.equal(action.type, 'startWorkflow');
      const input = (action.type === 'startWorkflow' ? action.args?.[0] : undefined) as BatchRegenerateInput;
      assert.equal(input.labelPrefix, scheduleId);
      const again = (await stack.client.workflow.execute(BATCH_REGENERATE_WORKFLOW_TYPE, {
        workflowId: `${batchId}-again`,
        taskQueue: stack.taskQueue,
        args: [{ ...input, run: result.run }],
      })) as BatchRegenerateResult;
      assert.deepEqual(
        { selected: again.selected, completed: again.completed, skipped: again.skipped },
        { selected: 2, completed: 0, skipped: 2 },
      );
      for (const id of ids) assert.equal((await stack.services.repos.ebooks.get(id))?.fileVersion, 3);
    });

    it('--unschedule deletes it', async () => {
      const r = await runScript(stack, ['--unschedule', scheduleId]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, new RegExp(`schedule ${scheduleId} deleted`));
      await assert.rejects(stack.client.schedule.getHandle(scheduleId).describe(), ScheduleNotFoundError);
      const again = await runScript(stack, ['--unschedule', scheduleId]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /no schedule/);
    });
  });
});
